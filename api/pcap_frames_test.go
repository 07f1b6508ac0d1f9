package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// tsharkFrames is every frame of file as tshark reads it, raw bytes.
func tsharkFrames(t *testing.T, file string) [][]byte {
	t.Helper()
	var doc []struct {
		Source struct {
			Layers struct {
				Raw []any `json:"frame_raw"`
			} `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal([]byte(strings.Join(tshark(t, file, "-T", "json", "-x", "-J", "frame"), "\n")), &doc); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	out := make([][]byte, len(doc))
	for i, d := range doc {
		if len(d.Source.Layers.Raw) == 0 {
			t.Fatalf("tshark gave frame %d no raw bytes", i+1)
		}
		s, _ := d.Source.Layers.Raw[0].(string)
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		out[i] = b
	}
	return out
}

// origFrame is what tshark says of one frame of the original capture.
type origFrame struct {
	n            int
	callID, ssrc string
	rtcp         bool
	src, dst     string // ip:port
}

// TestCallPCAPHasTheCapturedFramesOfItsSIPAndMedia imports a real capture
// of calls with RTP and RTCP into the embedded store and serves it: each
// call's PCAP, read back by tshark, is exactly the capture's frames of that
// call in capture order, byte for byte: its SIP (tshark's sip.Call-ID),
// every RTP packet of its streams and the RTCP between their endpoints'
// next ports. The oracle is tshark on the original file.
func TestCallPCAPHasTheCapturedFramesOfItsSIPAndMedia(t *testing.T) {
	const capture = "../testdata/captures/heplify__rtp_rtcp_sip_ipv4_udp.pcap"
	ctx := t.Context()
	st, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := pipeline.ImportFile(ctx, st, capture); err != nil {
		t.Fatal(err)
	}
	orig, err := pipeline.LoadFrames(capture)
	if err != nil {
		t.Fatal(err)
	}
	// tshark's view of the original: each frame's Call-ID, RTP SSRC,
	// RTCP and UDP ends.
	var origView []origFrame
	for _, l := range tshark(t, capture, "-T", "fields", "-E", "occurrence=f", "-e", "frame.number", "-e", "sip.Call-ID",
		"-e", "rtp.ssrc", "-e", "rtcp.version", "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport") {
		f := strings.Split(l, "\t")
		if len(f) != 8 {
			t.Fatalf("tshark line %q", l)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatal(err)
		}
		origView = append(origView, origFrame{n: n, callID: f[1], ssrc: f[2], rtcp: f[3] != "",
			src: f[4] + ":" + f[5], dst: f[6] + ":" + f[7]})
	}
	srv := startServer(t, st)
	page, err := st.ListCalls(ctx, storage.CallFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	withMedia := 0
	for _, call := range page.Calls {
		d, err := st.GetCall(ctx, call.CallID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Streams) == 0 {
			continue
		}
		withMedia++
		t.Run(call.CallID, func(t *testing.T) {
			status, h, body := get(t, srv, "/api/v1/calls/"+url.PathEscape(call.CallID)+"/pcap")
			if status != http.StatusOK || h.Get("Content-Type") != "application/vnd.tcpdump.pcap" {
				t.Fatalf("status %d, %s: %s", status, h.Get("Content-Type"), body)
			}
			file := filepath.Join(t.TempDir(), "call.pcap")
			if err := os.WriteFile(file, body, 0o600); err != nil {
				t.Fatal(err)
			}
			got := tsharkFrames(t, file)
			var want []int
			var sip int
			ends := map[string]bool{} // the streams' endpoints' RTCP ports
			for _, s := range d.Streams {
				for _, ap := range []netip.AddrPort{s.Src, s.Dst} {
					ends[netip.AddrPortFrom(ap.Addr(), ap.Port()+1).String()] = true
				}
			}
			for _, f := range origView {
				switch {
				case f.callID == call.CallID:
					want = append(want, f.n)
					sip++
				case f.rtcp && (ends[f.src] || ends[f.dst]):
					want = append(want, f.n)
				case f.ssrc != "":
					for _, s := range d.Streams {
						if f.ssrc == fmt.Sprintf("0x%08x", s.SSRC) && f.src == s.Src.String() && f.dst == s.Dst.String() {
							want = append(want, f.n)
						}
					}
				}
			}
			if len(got) != len(want) {
				t.Fatalf("the PCAP has %d frames; the capture has %d of this call (%d SIP)", len(got), len(want), sip)
			}
			for i, n := range want {
				if !bytes.Equal(got[i], orig[n-1].Data) {
					t.Fatalf("frame %d of the PCAP is not frame %d of the capture", i+1, n)
				}
			}
			if rtp := tshark(t, file, "-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp", "-T", "fields", "-e", "frame.number"); len(rtp) == 0 {
				t.Error("tshark sees no RTP in the export")
			}
			t.Logf("%d frames: %d SIP, %d media", len(got), sip, len(got)-sip)
		})
	}
	if withMedia == 0 {
		t.Fatal("no call of the capture has media: the test proved nothing")
	}
}

// TestCallPCAPRebuildsOnlyTheSIPNoFrameCarried: messages that came without
// a frame (HEP) are rebuilt next to the kept frames, in time order, and a
// frame of another link type makes the file pcapng with one interface per
// link type.
func TestCallPCAPRebuildsOnlyTheSIPNoFrameCarried(t *testing.T) {
	const capture = "../testdata/calls.pcap"
	frames, err := pipeline.LoadFrames(capture)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if _, err := pipeline.ImportFile(t.Context(), &rec, capture); err != nil {
		t.Fatal(err)
	}
	if len(rec.pkts) == 0 || len(rec.msgs) == 0 {
		t.Fatalf("the import kept %d frames and %d messages", len(rec.pkts), len(rec.msgs))
	}
	callID := rec.pkts[0].CallID
	var msgs []correlate.Message
	for _, m := range rec.msgs {
		if m.CallID == callID {
			msgs = append(msgs, m)
		}
	}
	var pkts, sipPkts []storage.Packet
	for _, p := range rec.pkts {
		if p.CallID != callID {
			continue
		}
		pkts = append(pkts, p)
		if p.Kind == storage.PacketSIP {
			sipPkts = append(sipPkts, p)
		}
	}
	if len(sipPkts) != len(msgs) {
		t.Fatalf("%d SIP frames kept for %d messages of %s", len(sipPkts), len(msgs), callID)
	}
	// Drop the second SIP frame: its message must come back rebuilt, in its place.
	dropped := sipPkts[1]
	var kept []storage.Packet
	for _, p := range pkts {
		if p.Seq != dropped.Seq {
			kept = append(kept, p)
		}
	}
	// And one frame as Linux cooked capture: two link types.
	cooked := kept[len(kept)-1]
	kept[len(kept)-1].LinkType = 113
	kept[len(kept)-1].Data = append(make([]byte, 16), cooked.Data[14:]...)
	kept[len(kept)-1].Data[14], kept[len(kept)-1].Data[15] = 0x08, 0x00
	var buf bytes.Buffer
	format, err := api.WriteCallPCAP(&buf, msgs, kept)
	if err != nil {
		t.Fatal(err)
	}
	if format != api.FormatPCAPNG {
		t.Fatalf("format %v with two link types, want pcapng", format)
	}
	file := filepath.Join(t.TempDir(), "call.pcapng")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got := tsharkFrames(t, file)
	if len(got) != len(pkts) {
		t.Fatalf("%d frames, want %d (the kept ones and one rebuilt)", len(got), len(pkts))
	}
	for i, p := range pkts {
		switch {
		case p.Seq == dropped.Seq:
			if bytes.Equal(got[i], frames[p.Seq-1].Data) || !bytes.Contains(got[i], msgs[1].Raw) {
				t.Errorf("frame %d: want the rebuilt message %s in the dropped frame's place", i+1, msgs[1].Method)
			}
		case i == len(pkts)-1:
			if !bytes.Equal(got[i], kept[len(kept)-1].Data) {
				t.Errorf("the cooked frame differs")
			}
		case !bytes.Equal(got[i], frames[p.Seq-1].Data):
			t.Errorf("frame %d is not the capture's frame %d", i+1, p.Seq)
		}
	}
	encaps := tshark(t, file, "-T", "fields", "-e", "frame.encap_type")
	slices.Sort(encaps)
	if encaps = slices.Compact(encaps); !slices.Equal(encaps, []string{"1", "25"}) {
		t.Errorf("encapsulations %v, want Ethernet (1) and Linux cooked (25)", encaps)
	}
	if sip := tshark(t, file, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID"); len(sip) != len(msgs) {
		t.Errorf("tshark sees %d SIP messages, want %d", len(sip), len(msgs))
	}
}

// recorder keeps copies of what an import writes.
type recorder struct {
	msgs []correlate.Message
	pkts []storage.Packet
}

func (r *recorder) Write(_ context.Context, b storage.Batch) error {
	r.msgs = append(r.msgs, b.Messages...)
	for _, p := range b.Packets {
		p.Data = bytes.Clone(p.Data)
		r.pkts = append(r.pkts, p)
	}
	return nil
}

// TestCallPCAPWithLegsAddsTheLinkedCallsFrames: ?legs=1 adds the frames of
// the calls in linked_call_ids, in time order with the call's own; without
// it only the call's; any other value is refused.
func TestCallPCAPWithLegsAddsTheLinkedCallsFrames(t *testing.T) {
	const capture = "../testdata/calls.pcap"
	ctx := t.Context()
	st, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := pipeline.ImportFile(ctx, st, capture); err != nil {
		t.Fatal(err)
	}
	page, err := st.ListCalls(ctx, storage.CallFilter{Limit: 2})
	if err != nil || len(page.Calls) < 2 {
		t.Fatalf("%d calls, %v", len(page.Calls), err)
	}
	a, b := page.Calls[0], page.Calls[1]
	// A B2BUA's correlation, as correlate writes it: a later version of a.
	a.LinkedCallIDs = []string{b.CallID, "never-stored@example.com"}
	if err := st.Write(ctx, storage.Batch{Calls: []correlate.Call{a}}); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, st)
	callIDs := func(query string) []string {
		t.Helper()
		status, _, body := get(t, srv, "/api/v1/calls/"+url.PathEscape(a.CallID)+"/pcap"+query)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", query, status, body)
		}
		file := filepath.Join(t.TempDir(), "call.pcap")
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		ids := tshark(t, file, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID")
		if times := tshark(t, file, "-T", "fields", "-e", "frame.time_epoch"); !slices.IsSorted(times) {
			t.Errorf("%s: frames not in time order", query)
		}
		return ids
	}
	own := callIDs("")
	withLegs := callIDs("?legs=1")
	count := func(ids []string, id string) int {
		n := 0
		for _, x := range ids {
			if x == id {
				n++
			}
		}
		return n
	}
	if count(own, a.CallID) == 0 || count(own, b.CallID) != 0 {
		t.Errorf("without legs: %v", own)
	}
	if count(withLegs, a.CallID) != count(own, a.CallID) || count(withLegs, b.CallID) != b.Messages {
		t.Errorf("with legs: %d of %s (want %d), %d of %s (want %d)", count(withLegs, a.CallID), a.CallID, count(own, a.CallID),
			count(withLegs, b.CallID), b.CallID, b.Messages)
	}
	if status, _, body := get(t, srv, "/api/v1/calls/"+url.PathEscape(a.CallID)+"/pcap?legs=2"); status != http.StatusBadRequest {
		t.Errorf("legs=2: status %d: %s", status, body)
	}
}
