package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// hepMessages reads every SIP message of a capture and wraps it as the
// HEPv3 packet a capture agent would send, with its original time.
func hepMessages(t *testing.T, path string) (pkts [][]byte, callIDs []string) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder()
	var (
		f   frame.Frame
		p   decode.Packet
		msg sip.Message
	)
	for {
		err := src.Next(&f)
		if errors.Is(err, io.EOF) {
			return pkts, callIDs
		}
		if err != nil {
			t.Fatal(err)
		}
		if dec.Decode(f.LinkType, f.Data, f.TS, &p) != nil || !sip.LooksLikeSIP(p.Payload) || msg.Unmarshal(p.Payload) != nil {
			continue
		}
		proto := uint8(17)
		if p.Transport == decode.TransportTCP {
			proto = 6
		}
		h := hep.Packet{
			Version: 3, IPFamily: hep.FamilyIPv4, Protocol: proto,
			SrcIP: p.Src.Addr(), DstIP: p.Dst.Addr(), SrcPort: p.Src.Port(), DstPort: p.Dst.Port(),
			TimestampSec: uint32(f.TS / 1e9), TimestampUsec: uint32(f.TS % 1e9 / 1e3),
			ProtoType: hep.ProtoSIP, NodeID: 7, NodeName: []byte("edge-1"), Payload: p.Payload,
		}
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
		callIDs = append(callIDs, string(msg.CallID))
	}
}

func freeUDPAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// TestLiveHEPCallsAppearWhileRinging feeds a running serve over its HEP
// listener: a call must be listed within 2 s of its INVITE, before it is
// answered, and end in the state the capture shows.
func TestLiveHEPCallsAppearWhileRinging(t *testing.T) {
	pkts, ids := hepMessages(t, "../../testdata/calls.pcap")
	hepAddr := freeUDPAddr(t)
	base, stop := startServe(t, "--data", t.TempDir(), "--hep-listen", "udp://"+hepAddr, "--flush", "200ms")
	defer stop()
	conn, err := net.Dial("udp", hepAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	first := ids[0]
	if _, err := conn.Write(pkts[0]); err != nil { // the first INVITE only
		t.Fatal(err)
	}
	sent := time.Now()
	var list callList
	for {
		getJSON(t, base+"/api/v1/calls?call_id="+url.QueryEscape(first), &list)
		if list.Total == 1 {
			break
		}
		if time.Since(sent) > 2*time.Second {
			t.Fatalf("call %s not listed 2 s after its INVITE", first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := list.Calls[0].State; st != "no_final" {
		t.Errorf("a ringing call is listed as %q", st)
	}
	for _, b := range pkts[1:] {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // a loopback socket buffer is small
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var all, answered callList
		getJSON(t, base+"/api/v1/calls?limit=100", &all)
		getJSON(t, base+"/api/v1/calls?state=answered", &answered)
		if all.Total == 8 && answered.Total == 2 {
			var st struct {
				Live liveStatus `json:"live"`
			}
			getJSON(t, base+"/api/v1/status", &st)
			if st.Live.HEPReceived != uint64(len(pkts)) || st.Live.HEPDropped != 0 {
				t.Errorf("status reports %d HEP packets received (%d dropped), sent %d", st.Live.HEPReceived, st.Live.HEPDropped, len(pkts))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after all messages: %d calls (%d answered), want 8 (2)", all.Total, answered.Total)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLiveShutdownLosesNothing stops serve right after the last HEP packet
// is sent: every message already received must be in the store after the
// drain, as a restart shows.
func TestLiveShutdownLosesNothing(t *testing.T) {
	pkts, _ := hepMessages(t, "../../testdata/calls.pcap")
	hepAddr := freeUDPAddr(t)
	dir := t.TempDir()
	_, stop := startServe(t, "--data", dir, "--hep-listen", "udp://"+hepAddr, "--flush", "1h")
	conn, err := net.Dial("udp", hepAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range pkts {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	conn.Close()
	time.Sleep(100 * time.Millisecond) // in the kernel's socket buffer is not yet received
	stop()

	base, stop2 := startServe(t, "--data", dir)
	defer stop2()
	var all callList
	getJSON(t, base+"/api/v1/calls?limit=100", &all)
	if all.Total != 8 {
		t.Fatalf("after shutdown and restart: %d calls, want 8", all.Total)
	}
	stored := 0
	for _, c := range all.Calls {
		var d struct {
			Messages []struct{} `json:"messages"`
		}
		getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
		stored += len(d.Messages)
	}
	// 48 SIP messages in calls.pcap, 8 of them in the two registrations.
	if want := len(pkts) - 8; stored != want {
		t.Errorf("stored %d call messages after shutdown, want %d", stored, want)
	}
}

// gatedStore is the real store with a gate in front of its writes: the
// first Write says it has started and waits until the test opens the gate,
// as a store stuck in a slow insert would.
type gatedStore struct {
	storeWriter
	started chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (g *gatedStore) Write(ctx context.Context, b storage.Batch) error {
	g.once.Do(func() { close(g.started) })
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.storeWriter.Write(ctx, b)
}

// pausedSource hands over the first frames of src, waits for until, and
// then trickles the rest, one every 20 µs, so that the pipeline's flushes
// keep finding news while they come.
type pausedSource struct {
	src   frameSource
	after int
	until chan struct{}
	ended chan struct{} // closed when src is exhausted
}

func (p *pausedSource) Next(f *frame.Frame) error {
	switch {
	case p.after == 0:
		<-p.until
	case p.after < 0:
		time.Sleep(20 * time.Microsecond)
	}
	p.after--
	err := p.src.Next(f)
	if errors.Is(err, io.EOF) && p.ended != nil {
		close(p.ended)
		p.ended = nil
	}
	return err
}

// TestLiveStoreWritesDoNotHoldUpThePipeline: while the store is stuck in a
// write, the pipeline goes on taking frames off the queue (so the capture
// rings and the queue do not fill), and what it learned meanwhile is
// written once the store is back, none of it lost.
func TestLiveStoreWritesDoNotHoldUpThePipeline(t *testing.T) {
	const path = "../../testdata/calls.pcap"
	ctx := t.Context()
	store, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	gated := &gatedStore{storeWriter: store, started: make(chan struct{}), gate: make(chan struct{})}
	r := newLiveRunner(liveOptions{flushEvery: time.Millisecond}, gated, slog.New(slog.DiscardHandler), nil)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// The first frames go before the store write starts, the rest after.
	ended := make(chan struct{})
	r.sources = append(r.sources, &pausedSource{src: src, after: 20, until: gated.started, ended: ended})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	select {
	case <-gated.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no store write started")
	}
	// Once the file's frames are all read, with the write still stuck, the
	// pipeline must empty the queue.
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the capture was not read to its end")
	}
	for deadline := time.Now().Add(10 * time.Second); len(r.q.ring.spans) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("with the store stuck in a write, %d frames stay queued", len(r.q.ring.spans))
		}
	}
	close(gated.gate)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	want, err := analyzeFile(path, qualityOptions{g711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	page, err := store.ListCalls(ctx, storage.CallFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != len(want.Calls) {
		t.Fatalf("%d calls stored, the offline analysis finds %d", page.Total, len(want.Calls))
	}
	stored, wantMsgs := 0, 0
	for _, c := range want.Calls {
		wantMsgs += c.Messages
		d, err := store.GetCall(ctx, c.CallID)
		if err != nil {
			t.Fatalf("call %s: %v", c.CallID, err)
		}
		stored += len(d.Messages)
		if d.Call.State != c.State {
			t.Errorf("call %s stored as %s, the offline analysis says %s", c.CallID, d.Call.State, c.State)
		}
	}
	if stored != wantMsgs {
		t.Errorf("%d SIP messages stored, want %d", stored, wantMsgs)
	}
	if st := r.status(); st.WriteErrors != 0 || st.QueueDrops != 0 {
		t.Errorf("status: %d write errors, %d queue drops", st.WriteErrors, st.QueueDrops)
	}
}
