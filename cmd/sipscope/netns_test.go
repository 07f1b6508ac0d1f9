//go:build linux

package main

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/internal/netnstest"
	"github.com/sipscope/sipscope/pipeline"
)

type liveCallDetail struct {
	Call struct {
		CallID    string `json:"call_id"`
		State     string `json:"state"`
		EndReason string `json:"end_reason"`
		Messages  int    `json:"messages"`
	} `json:"call"`
	Messages []struct {
		Src        string `json:"src"`
		IsRequest  bool   `json:"is_request"`
		Method     string `json:"method"`
		StatusCode int    `json:"status_code"`
		CSeqMethod string `json:"cseq_method"`
		Node       string `json:"node"`
	} `json:"messages"`
	Streams []struct {
		Src         string `json:"src"`
		Dst         string `json:"dst"`
		PayloadType uint8  `json:"payload_type"`
		Packets     int    `json:"packets"`
		Lost        int    `json:"lost"`
	} `json:"rtp_streams"`
}

// TestLiveCaptureOfSippCallsOverAVeth places 3 real calls with RTP from a
// sipp UAC in a namespace to a sipp UAS (echoing RTP) across a veth pair,
// while serve captures on that veth. What sipscope shows must equal what
// the two sipps report: the calls, their state, every SIP message, and
// every RTP packet played and echoed.
func TestLiveCaptureOfSippCallsOverAVeth(t *testing.T) {
	netnstest.RequireLiveRoot(t, "sipp", "sysctl")
	t.Run("one socket", func(t *testing.T) { testSippCallsOverAVeth(t, 1) })
	// With two sockets in a PACKET_FANOUT group each flow lands on one of
	// them and the pipeline merges both: nothing may be lost or counted twice.
	t.Run("fanout over two sockets", func(t *testing.T) { testSippCallsOverAVeth(t, 2) })
}

func testSippCallsOverAVeth(t *testing.T, sockets int) {
	link := netnstest.NewUACLink(t)
	base, stopServe := startServe(t, "--data", t.TempDir(), "--iface", link.RootIf, "--flush", "200ms", "--ring-mb", "8", "--promisc",
		"--fanout", strconv.Itoa(sockets))
	t.Cleanup(stopServe) // before the veth goes away (cleanups run last-in first-out)

	const calls = 3
	uacOut, uasOut, uacDir, uasDir := netnstest.RunSippCalls(t, link, calls)

	// What the sipps report.
	uacStat := netnstest.SippCSV(t, uacDir, "uac_pcap_*_.csv")
	if uacStat["SuccessfulCall(C)"] != calls || uacStat["FailedCall(C)"] != 0 {
		t.Fatalf("sipp UAC: %d successful, %d failed calls, want %d and 0", uacStat["SuccessfulCall(C)"], uacStat["FailedCall(C)"], calls)
	}
	uacSent, uacRetrans, uacRecv := netnstest.SippMessages(netnstest.SippCSV(t, uacDir, "uac_pcap_*_counts.csv"))
	uasSent, uasRetrans, uasRecv := netnstest.SippMessages(netnstest.SippCSV(t, uasDir, "uas_*_counts.csv"))
	if uacSent != uasRecv || uasSent != uacRecv {
		t.Fatalf("the sipps disagree: UAC sent %d, UAS received %d; UAS sent %d, UAC received %d", uacSent, uasRecv, uasSent, uacRecv)
	}
	wireMessages := uacSent + uacRetrans + uasSent + uasRetrans
	// The UAC plays g711a.pcap (PCMA) and then an RFC 2833 DTMF digit per call.
	played := netnstest.SippNumber(t, uacOut, `In pcap pcap/g711a\.pcap, npkts (\d+)`)
	dtmf := netnstest.SippNumber(t, uacOut, `In pcap pcap/dtmf_2833_1\.pcap, npkts (\d+)`)
	echoed := netnstest.SippNumber(t, uasOut, `(\d+) Total echo RTP pckts 1st stream`)
	t.Logf("sipp: %d SIP messages on the wire (%d UAC retransmissions, %d UAS), per call %d PCMA + %d DTMF packets played, %d echoed in all",
		wireMessages, uacRetrans, uasRetrans, played, dtmf, echoed)

	// What sipscope shows, once the last flush has come in.
	var (
		list    callList
		details []liveCallDetail
		msgs    int
		echoSum int
	)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		getJSON(t, base+"/api/v1/calls?limit=100", &list)
		details, msgs, echoSum = details[:0], 0, 0
		behind := 0 // call rows not yet caught up with their messages
		for _, c := range list.Calls {
			var d liveCallDetail
			getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
			details = append(details, d)
			msgs += len(d.Messages)
			// A flush writes messages and streams before the call rows, so
			// a reader can briefly see a message its call row does not count.
			if d.Call.Messages != len(d.Messages) {
				behind++
			}
			for _, s := range d.Streams {
				if s.Src == netip.AddrPortFrom(link.RootIP, 6000).String() {
					echoSum += s.Packets
				}
			}
		}
		if list.Total == calls && msgs == wireMessages && echoSum == echoed && behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipscope shows %d calls, %d SIP messages, %d echoed RTP packets; the sipps say %d, %d, %d",
				list.Total, msgs, echoSum, calls, wireMessages, echoed)
		}
	}

	// The ring and the queue must not have lost anything: a loss below
	// would otherwise read as a decode or binding bug.
	var st struct {
		Live pipeline.LiveStatus `json:"live"`
	}
	getJSON(t, base+"/api/v1/status", &st)
	t.Logf("capture: %d packets through the filter, %d kernel drops, %d ring freezes, %d queue drops",
		st.Live.Packets, st.Live.KernelDrops, st.Live.FreezeQueue, st.Live.QueueDrops)
	if st.Live.KernelDrops+st.Live.QueueDrops != 0 {
		t.Errorf("capture dropped packets: %d in the kernel ring, %d in the queue to the pipeline", st.Live.KernelDrops, st.Live.QueueDrops)
	}

	for _, d := range details {
		c := d.Call
		if c.State != "answered" || c.EndReason != "caller_bye" {
			t.Errorf("call %s: state %q, end reason %q; sipp's calls were answered and ended by the caller's BYE", c.CallID, c.State, c.EndReason)
		}
		if c.Messages != len(d.Messages) {
			t.Errorf("call %s: says %d messages, %d stored", c.CallID, c.Messages, len(d.Messages))
		}
		// Without retransmissions each call is INVITE, 180, 200, ACK, BYE,
		// 200: sipp's built-in UAS sends no 100 Trying.
		if uacRetrans+uasRetrans == 0 && len(d.Messages) != wireMessages/calls {
			t.Errorf("call %s: %d SIP messages, want %d", c.CallID, len(d.Messages), wireMessages/calls)
		}
		var bye, byeOK bool
		for _, m := range d.Messages {
			bye = bye || (m.IsRequest && m.Method == "BYE")
			byeOK = byeOK || (!m.IsRequest && m.CSeqMethod == "BYE" && m.StatusCode == 200)
		}
		if !bye || !byeOK {
			t.Errorf("call %s: BYE seen %v, its 200 OK seen %v", c.CallID, bye, byeOK)
		}
		// Each call's RTP: the UAC → UAS direction carries exactly what
		// sipp played (PCMA and DTMF have their own SSRC), and the echo
		// comes back with the same counts.
		var toUAS, pcma, fromUAS int
		for _, s := range d.Streams {
			switch {
			case strings.HasPrefix(s.Src, link.NsIP.String()+":"):
				toUAS += s.Packets
				if s.PayloadType == 8 {
					pcma += s.Packets
				}
			case s.Src == netip.AddrPortFrom(link.RootIP, 6000).String():
				fromUAS += s.Packets
			default:
				t.Errorf("call %s: stream from %s not sent by either sipp", c.CallID, s.Src)
			}
			// DTMF end packets repeat sequence numbers, so only the voice
			// streams have a loss that must be exactly zero.
			if s.PayloadType == 8 && s.Lost != 0 {
				t.Errorf("call %s: stream %s → %s lost %d packets on a veth", c.CallID, s.Src, s.Dst, s.Lost)
			}
		}
		if pcma != played || toUAS != played+dtmf || fromUAS != toUAS {
			t.Errorf("call %s: RTP to the UAS %d (PCMA %d), echoed %d; sipp played %d PCMA + %d DTMF and echoed all",
				c.CallID, toUAS, pcma, fromUAS, played, dtmf)
		}
	}
}
