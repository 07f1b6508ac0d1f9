//go:build integration && linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/hepsend"
	"github.com/sipscope/sipscope/internal/heptest"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/server/servertest"
)

// childServe is serve run as a child process (this test binary's main,
// see TestMain), so that a test can kill it with SIGKILL.
type childServe struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	out  *bytes.Buffer
	done chan struct{}
}

// startChildServe runs serve with args (--listen is added) and waits
// until its API answers. The test's cleanup kills it if it still runs.
func startChildServe(t *testing.T, args ...string) *childServe {
	t.Helper()
	addr := heptest.FreeAddr(t)
	all := append([]string{"serve", "--listen", addr}, args...)
	c := &childServe{t: t, base: "http://" + addr, out: &bytes.Buffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), "SIPSCOPE_TEST_MAIN="+strings.Join(all, "\x1f"))
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.signal(syscall.SIGKILL) })
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(c.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		select {
		case <-c.done:
			t.Fatalf("the child serve exited before it was ready:\n%s", c.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child serve is not ready after 60 s:\n%s", c.out.String())
		}
	}
}

// signal sends sig and waits for the child to end (SIGKILL after 30 s).
func (c *childServe) signal(sig syscall.Signal) {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.t.Errorf("the child serve did not end on %v:\n%s", sig, c.out.String())
		c.cmd.Process.Kill()
		<-c.done
	}
}

// liveStatusOf reads serve's /api/v1/status.
func liveStatusOf(t *testing.T, base string) pipeline.LiveStatus {
	t.Helper()
	var st struct {
		Live pipeline.LiveStatus `json:"live"`
	}
	getJSON(t, base+"/api/v1/status", &st)
	return st.Live
}

// waitStatus polls serve's status until ok says yes (30 s at most).
func waitStatus(t *testing.T, base, what string, ok func(st pipeline.LiveStatus) bool) pipeline.LiveStatus {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st := liveStatusOf(t, base)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %+v, store spool %+v", what, st, st.StoreSpool)
		}
	}
}

// edgeFeed is what an edge sipscope (serve --hep-send --hep-send-rtcp
// --hep-send-stats) sends about a capture, and what it measured.
type edgeFeed struct {
	pkts     [][]byte                  // HEP packets, in the order sent
	sip      int                       // of them SIP messages
	reports  int                       // RTP agent reports
	calls    map[string]int            // Call-ID → SIP messages, as the offline analysis finds them
	streams  map[string]quality.Stream // the edge's latest record of each stream bound to a call
	duration time.Duration             // capture time from the first packet to the last
}

// edgeStreamKey names a stream as the API shows it.
func edgeStreamKey(v api.StreamView) string {
	return v.CallID + " " + v.SSRC + " " + v.Src + ">" + v.Dst
}

// genCapture writes a generated capture of calls with RTP (and loss) and
// returns its path.
func genCapture(t *testing.T, calls int, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("calls-%d.pcap", seed))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = gen.Write(f, gen.Config{Calls: calls, Seed: seed, CallDuration: 12 * time.Second, LossPct: 2})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// shiftedSource moves a capture's packets in time by shift.
type shiftedSource struct {
	src   *capture.FileSource
	shift int64
}

func (s shiftedSource) Next(f *frame.Frame) error {
	err := s.src.Next(f)
	f.TS += s.shift
	return err
}

// captureSpan is the time of the first and the last frame of path.
func captureSpan(t *testing.T, path string) (first, last int64) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var f frame.Frame
	for {
		err := src.Next(&f)
		if errors.Is(err, io.EOF) {
			return first, last
		}
		if err != nil {
			t.Fatal(err)
		}
		if first == 0 {
			first = f.TS
		}
		last = f.TS
	}
}

// makeEdgeFeed plays path, moved so that it ends a few seconds ago (a
// restarted collector continues calls that recent), through a live-mode
// pipeline with the HEP sender attached as serve attaches it, and keeps
// what the sender put on a TCP connection.
func makeEdgeFeed(t *testing.T, path string) edgeFeed {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	cfg := hepsend.Config{HEPSend: "tcp://" + ln.Addr().String(), HEPNodeID: 21, HEPNodeName: "edge", HEPSendRTCP: true, HEPSendStats: true}
	s, err := hepsend.New(cfg, true, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	ccfg := correlate.DefaultConfig()
	ccfg.KeepMessages, ccfg.Retain = true, false
	p := pipeline.New(ccfg)
	s.Attach(p, cfg)
	first, last := captureSpan(t, path)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	feed := edgeFeed{calls: map[string]int{}, streams: map[string]quality.Stream{}, duration: time.Duration(last - first)}
	take := func(b *storage.Batch) {
		for _, st := range b.Streams {
			if st.CallID != "" {
				v := api.NewStreamView(st)
				feed.streams[edgeStreamKey(v)] = st
			}
		}
	}
	var flushed int64
	err = p.RunSourceEach(shiftedSource{src, time.Now().Add(-5*time.Second).UnixNano() - last}, func() {
		if p.LastPacketTS()-flushed >= int64(time.Second) {
			var b storage.Batch
			p.AppendLiveBatch(&b, p.LastPacketTS(), false)
			take(&b)
			flushed = p.LastPacketTS()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var b storage.Batch
	p.AppendLiveBatch(&b, p.LastPacketTS(), true)
	take(&b)
	s.Finish()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	raw := <-got
	for len(raw) > 0 {
		n, err := hep.FrameLength(raw)
		if err != nil {
			t.Fatalf("the edge's HEP stream: %v", err)
		}
		var h hep.Packet
		if err := h.Unmarshal(raw[:n]); err != nil {
			t.Fatal(err)
		}
		switch h.ProtoType {
		case hep.ProtoSIP:
			feed.sip++
		case hep.ProtoMOSFull:
			feed.reports++
		}
		feed.pkts = append(feed.pkts, raw[:n])
		raw = raw[n:]
	}
	rep, err := pipeline.AnalyzeFile(path, pipeline.QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Calls {
		feed.calls[c.CallID] = c.Messages
	}
	if feed.reports == 0 || len(feed.streams) == 0 || len(feed.calls) == 0 {
		t.Fatalf("the edge feed of %s has %d reports, %d streams, %d calls", path, feed.reports, len(feed.streams), len(feed.calls))
	}
	return feed
}

// sendPaced writes pkts to a HEP TCP listener spread over d, as edges'
// traffic keeps coming; it returns when all are written.
func sendPaced(addr string, pkts [][]byte, d time.Duration) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	gap := d / time.Duration(len(pkts))
	start := time.Now()
	for i, b := range pkts {
		if _, err := conn.Write(b); err != nil {
			return err
		}
		if wait := time.Until(start.Add(time.Duration(i+1) * gap)); wait > 0 {
			time.Sleep(wait)
		}
	}
	return nil
}

// outageDuration is how long the outage test keeps ClickHouse down:
// SIPSCOPE_OUTAGE (a Go duration, "60s") or 15 s.
func outageDuration(t *testing.T) time.Duration {
	v := os.Getenv("SIPSCOPE_OUTAGE")
	if v == "" {
		return 15 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("SIPSCOPE_OUTAGE=%q: want a duration such as 60s", v)
	}
	return d
}

// queryUint runs a one-number query on the ClickHouse server at addr.
func queryUint(t *testing.T, addr, query string) uint64 {
	t.Helper()
	var n uint64
	if err := countRows(t.Context(), addr, query, &n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// problems collects what a check found wrong; eventually retries a
// check until it finds nothing (what the store shows lags what serve took
// by a flush and a write).
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func eventually(t *testing.T, check func(p *problems)) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var p problems
		check(&p)
		if len(p) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, s := range p {
				t.Error(s)
			}
			return
		}
	}
}

// checkStoredOnce checks in SQL that the database holds every call and
// stream of the feeds once, and every SIP message once: with exact, rows
// counted without FINAL (nothing was written twice); without, after FINAL
// and by distinct key (a batch replayed after a kill may have been
// written before: the tables' keys collapse it).
func checkStoredOnce(t *testing.T, p *problems, addr, db string, exact bool, feeds ...edgeFeed) {
	t.Helper()
	calls, sip, streams := 0, 0, 0
	for _, f := range feeds {
		calls += len(f.calls)
		sip += f.sip
		streams += len(f.streams)
	}
	for _, c := range []struct {
		what  string
		query string
		want  int
	}{
		{"calls", "SELECT count() FROM " + db + ".calls FINAL", calls},
		{"distinct calls", "SELECT uniqExact(call_id) FROM " + db + ".calls", calls},
		{"SIP messages", "SELECT count() FROM " + db + ".sip_messages FINAL", sip},
		{"streams", "SELECT count() FROM " + db + ".rtp_streams FINAL WHERE call_id != ''", streams},
		{"distinct streams", "SELECT uniqExact(ssrc, src_ip, src_port, dst_ip, dst_port, start_us) FROM " + db + ".rtp_streams WHERE call_id != ''", streams},
	} {
		if n := queryUint(t, addr, c.query); int(n) != c.want {
			p.add("%s: %d stored, %d sent", c.what, n, c.want)
		}
	}
	rows := int(queryUint(t, addr, "SELECT count() FROM "+db+".sip_messages"))
	if exact && rows != sip {
		p.add("%d SIP message rows (without FINAL), %d messages sent: some were written twice", rows, sip)
	}
}

// checkCallsViaAPI checks that serve's API lists every call of the feeds
// once, with its messages and the edge's streams.
func checkCallsViaAPI(t *testing.T, p *problems, base string, feeds ...edgeFeed) {
	t.Helper()
	want := 0
	for _, f := range feeds {
		want += len(f.calls)
	}
	var list api.CallListView
	getJSON(t, base+"/api/v1/calls?limit=1000", &list)
	seen := map[string]int{}
	for _, c := range list.Calls {
		seen[c.CallID]++
	}
	if list.Total != want || len(seen) != want {
		p.add("the API lists %d calls (%d distinct), the feeds have %d", list.Total, len(seen), want)
	}
	for _, f := range feeds {
		perCall := map[string][]quality.Stream{}
		for _, st := range f.streams {
			perCall[st.CallID] = append(perCall[st.CallID], st)
		}
		for id, msgs := range f.calls {
			if seen[id] != 1 {
				p.add("call %s listed %d times", id, seen[id])
				continue
			}
			var d api.CallDetailView
			getJSON(t, base+"/api/v1/calls/"+url.PathEscape(id), &d)
			if len(d.Messages) != msgs {
				p.add("call %s: %d messages, want %d", id, len(d.Messages), msgs)
			}
			got := map[string]api.StreamView{}
			for _, v := range d.RTPStreams {
				got[edgeStreamKey(v)] = v
			}
			if len(got) != len(perCall[id]) || len(d.RTPStreams) != len(got) {
				p.add("call %s: %d streams (%d distinct), the edge reported %d", id, len(d.RTPStreams), len(got), len(perCall[id]))
			}
			for _, st := range perCall[id] {
				w := api.NewStreamView(st)
				g, ok := got[edgeStreamKey(w)]
				if !ok {
					p.add("call %s: stream %s missing", id, edgeStreamKey(w))
					continue
				}
				compareStreamViews(p, "collector vs edge", g, w)
			}
		}
	}
}

// compareStreamViews compares a stream as the collector shows it with
// the same stream as the edge measured it: counts exactly, figures to
// the 3 decimals the RTP agent report carries.
func compareStreamViews(p *problems, what string, got, want api.StreamView) {
	r3 := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"packets", got.Packets, want.Packets},
		{"expected", got.Expected, want.Expected},
		{"lost", got.Lost, want.Lost},
		{"payload", got.Payload, want.Payload},
		{"mean jitter", r3(got.MeanJitterMs), r3(want.MeanJitterMs)},
		{"max jitter", r3(got.MaxJitterMs), r3(want.MaxJitterMs)},
		{"max delta", r3(got.MaxDeltaMs), r3(want.MaxDeltaMs)},
		{"MOS", r3(got.MOS), r3(want.MOS)},
	} {
		if c.got != c.want {
			p.add("%s: stream %s: %s %v, want %v", what, edgeStreamKey(want), c.field, c.got, c.want)
		}
	}
}

// TestCollectorRidesOutAClickHouseOutageAndAKill is the collector role's
// durability: edges' HEP (SIP, RTCP JSON, RTP agent reports) flows over
// TCP into serve --clickhouse while the ClickHouse server (18.16) is
// stopped for SIPSCOPE_OUTAGE (15 s by default) and started again: every
// call, stream and SIP message is stored exactly once (no row written
// twice). Then, with the server down again, a second feed is spooled, and
// serve is killed with SIGKILL while it replays the spool into the server
// that came back; the next serve replays the rest: every call, stream and
// message is still there once (the tables' keys collapse what the killed
// replay had written but not acknowledged).
func TestCollectorRidesOutAClickHouseOutageAndAKill(t *testing.T) {
	outage := outageDuration(t)
	began := time.Now()
	phase := func(what string) { t.Logf("%5.1fs %s", time.Since(began).Seconds(), what) }
	first := makeEdgeFeed(t, genCapture(t, 40, 111))
	second := makeEdgeFeed(t, genCapture(t, 40, 222))
	phase("feeds made")
	srv := servertest.Start(t, servertest.Options{})
	const db = "collector"
	hepAddr := heptest.FreeAddr(t)
	data := t.TempDir()
	args := []string{"--data", data, "--clickhouse", "clickhouse://default@" + srv.Addr() + "/" + db,
		"--hep-listen", "tcp://" + hepAddr, "--flush", "300ms"}
	coll := startChildServe(t, args...)
	phase("collector up")

	// The outage, mid-ingest.
	sent := make(chan error, 1)
	go func() { sent <- sendPaced(hepAddr, first.pkts, outage+6*time.Second) }()
	waitStatus(t, coll.base, "a fifth of the feed stored", func(st pipeline.LiveStatus) bool {
		return st.HEPReceived >= uint64(len(first.pkts)/5) && st.LastFlush != ""
	})
	srv.Stop()
	phase("server stopped")
	down := time.Now()
	waitStatus(t, coll.base, "batches spooled while the server is down", func(st pipeline.LiveStatus) bool {
		return st.StoreSpool != nil && st.StoreSpool.Records > 0
	})
	time.Sleep(time.Until(down.Add(outage))) // the outage itself, not a wait for a result
	srv.Start()
	phase("server started")
	if err := <-sent; err != nil {
		t.Fatalf("sending the first feed: %v", err)
	}
	st := waitStatus(t, coll.base, "the first feed received and the spool replayed", func(st pipeline.LiveStatus) bool {
		return st.HEPReceived == uint64(len(first.pkts)) && st.StoreSpool.Records == 0 && st.Stages["rtp"]["agent_reports"] == float64(first.reports)
	})
	if sp := st.StoreSpool; sp.Replayed == 0 || sp.Replayed != sp.Appended || sp.Dropped != 0 || st.StoreLost != 0 || st.WriteErrors == 0 {
		t.Errorf("after the outage: spool %+v, %d write errors, %d batches lost; want write errors and every spooled batch replayed", sp, st.WriteErrors, st.StoreLost)
	}
	t.Logf("outage %v: %d batches spooled and replayed, %d write errors", outage, st.StoreSpool.Replayed, st.WriteErrors)
	phase("first feed stored")
	eventually(t, func(p *problems) {
		checkStoredOnce(t, p, srv.Addr(), db, true, first)
		checkCallsViaAPI(t, p, coll.base, first)
	})
	if t.Failed() {
		return
	}

	phase("first feed checked")
	// The kill during the replay.
	srv.Stop()
	phase("server stopped again")
	before := st.StoreSpool.Appended
	if err := sendPaced(hepAddr, second.pkts, 6*time.Second); err != nil {
		t.Fatalf("sending the second feed: %v", err)
	}
	st = waitStatus(t, coll.base, "the second feed received and spooled", func(st pipeline.LiveStatus) bool {
		return st.HEPReceived == uint64(len(first.pkts)+len(second.pkts)) && st.Stages["rtp"]["agent_reports"] == float64(first.reports+second.reports)
	})
	// One more flush after the last frame, then the spool holds it all.
	time.Sleep(300 * time.Millisecond)
	spooled := liveStatusOf(t, coll.base).StoreSpool
	if spooled.Records < 10 {
		t.Fatalf("only %d batches spooled: the replay would be over before it can be interrupted", spooled.Records)
	}
	phase("second feed spooled")
	srv.Start()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		sp := liveStatusOf(t, coll.base).StoreSpool
		if sp.Records == 0 {
			t.Fatalf("the spool was replayed whole (%+v) before the test could kill serve", sp)
		}
		if sp.Replayed > before {
			coll.signal(syscall.SIGKILL)
			t.Logf("killed during the replay: %d of %d spooled batches replayed", sp.Replayed-before, spooled.Records)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replay did not start: spool %+v", sp)
		}
	}
	phase("killed")
	base, stop := startServe(t, args...)
	defer stop()
	phase("restarted")
	waitStatus(t, base, "the rest of the spool replayed by the next run", func(st pipeline.LiveStatus) bool {
		return st.StoreSpool != nil && st.StoreSpool.Records == 0 && st.StoreSpool.Replayed > 0
	})
	phase("replayed")
	eventually(t, func(p *problems) {
		checkStoredOnce(t, p, srv.Addr(), db, false, first, second)
		checkCallsViaAPI(t, p, base, first, second)
	})
	rows := queryUint(t, srv.Addr(), "SELECT count() FROM "+db+".sip_messages")
	t.Logf("after the kill: %d SIP message rows before FINAL for %d messages", rows, first.sip+second.sip)
	phase("checked")
	stop()
	phase("serve stopped")
	srv.Stop()
	phase("server stopped")
}
