package sdp_test

import (
	"fmt"

	"github.com/sipscope/sipscope/decode/sdp"
)

func ExampleSession_Unmarshal() {
	body := []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
		"m=audio 49170 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n")
	var s sdp.Session // reuse one per goroutine
	if err := s.Unmarshal(body); err != nil {
		fmt.Println(err)
		return
	}
	m := &s.Media[0]
	fmt.Println(s.RTPAddr(0), s.RTCPAddr(0), s.MediaDirection(0))
	for _, pt := range m.Formats[:m.NumFormats] {
		fmt.Printf("%d %s/%d\n", pt, m.EncodingName(pt), m.ClockRate(pt))
	}
	// Output:
	// 192.0.2.10:49170 192.0.2.10:49171 sendrecv
	// 8 PCMA/8000
	// 101 telephone-event/8000
}
