package sdp

// Direction is the media direction attribute (RFC 8866 §6.7).
type Direction uint8

const (
	// DirectionUnspecified means no direction attribute at that level.
	DirectionUnspecified Direction = iota
	SendRecv
	SendOnly
	RecvOnly
	Inactive
)

func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "unspecified"
}

// parseDirection maps an attribute name to a direction, ignoring case
// (some phones send "a=SendRecv").
func parseDirection(name []byte) Direction {
	if len(name) != 8 {
		return DirectionUnspecified
	}
	switch {
	case equalFold(name, "sendrecv"):
		return SendRecv
	case equalFold(name, "sendonly"):
		return SendOnly
	case equalFold(name, "recvonly"):
		return RecvOnly
	case equalFold(name, "inactive"):
		return Inactive
	}
	return DirectionUnspecified
}
