package sip_test

import (
	"fmt"
	"strings"

	"github.com/sipscope/sipscope/decode/sip"
)

func ExampleMessage_Unmarshal() {
	datagram := []byte(strings.ReplaceAll(`SIP/2.0 486 Busy Here
v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9
From: "Alice" <sip:alice@example.com>;tag=9fxced76sl
To: <sip:+15551234@example.net>;tag=8321234356
i: 3848276298220188511@192.0.2.1
CSeq: 1 INVITE
Reason: Q.850;cause=17
Content-Length: 0

`, "\n", "\r\n"))
	var m sip.Message // reuse one per goroutine
	if err := m.Unmarshal(datagram); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d %s %s\n", m.StatusCode, m.Reason, m.CSeqMethod)
	fmt.Printf("call %s from %s to %s\n", m.CallID, m.FromUser, m.ToUser)
	fmt.Printf("branch %s, reason %s\n", m.ViaBranch, m.ReasonHeader)
	// Output:
	// 486 Busy Here INVITE
	// call 3848276298220188511@192.0.2.1 from alice to +15551234
	// branch z9hG4bK74bf9, reason Q.850;cause=17
}

func ExampleFrameLength() {
	stream := []byte("OPTIONS sip:a@example.com SIP/2.0\r\nl: 0\r\n\r\nOPTIONS sip:b@exa")
	n, err := sip.FrameLength(stream)
	fmt.Println(n, err)
	_, err = sip.FrameLength(stream[n:])
	fmt.Println(err)
	// Output:
	// 43 <nil>
	// sip: incomplete message
}
