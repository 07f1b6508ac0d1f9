package sip

// Method is a SIP method as a small number, so hot paths compare bytes once
// and count in arrays; every method RFC 3261 and its extensions define has
// one, any other token is MethodOther.
type Method uint8

const (
	MethodOther Method = iota
	MethodInvite
	MethodAck
	MethodBye
	MethodCancel
	MethodPrack
	MethodUpdate
	MethodRegister
	MethodOptions
	MethodMessage
	MethodSubscribe
	MethodNotify
	MethodInfo
	MethodRefer
	MethodPublish
	NumMethods
)

// ParseMethod maps a method token (case-sensitive, RFC 3261 §7.1) to its
// number; the string conversion in the switch does not allocate.
func ParseMethod(b []byte) Method {
	switch string(b) {
	case "INVITE":
		return MethodInvite
	case "ACK":
		return MethodAck
	case "BYE":
		return MethodBye
	case "CANCEL":
		return MethodCancel
	case "PRACK":
		return MethodPrack
	case "UPDATE":
		return MethodUpdate
	case "REGISTER":
		return MethodRegister
	case "OPTIONS":
		return MethodOptions
	case "MESSAGE":
		return MethodMessage
	case "SUBSCRIBE":
		return MethodSubscribe
	case "NOTIFY":
		return MethodNotify
	case "INFO":
		return MethodInfo
	case "REFER":
		return MethodRefer
	case "PUBLISH":
		return MethodPublish
	}
	return MethodOther
}

func (m Method) String() string {
	switch m {
	case MethodInvite:
		return "INVITE"
	case MethodAck:
		return "ACK"
	case MethodBye:
		return "BYE"
	case MethodCancel:
		return "CANCEL"
	case MethodPrack:
		return "PRACK"
	case MethodUpdate:
		return "UPDATE"
	case MethodRegister:
		return "REGISTER"
	case MethodOptions:
		return "OPTIONS"
	case MethodMessage:
		return "MESSAGE"
	case MethodSubscribe:
		return "SUBSCRIBE"
	case MethodNotify:
		return "NOTIFY"
	case MethodInfo:
		return "INFO"
	case MethodRefer:
		return "REFER"
	case MethodPublish:
		return "PUBLISH"
	}
	return "other"
}
