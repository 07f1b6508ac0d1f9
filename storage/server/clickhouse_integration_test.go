//go:build integration

package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/server/servertest"
	"github.com/sipscope/sipscope/storage/storetest"
)

// These tests start a real clickhouse-server (Debian: apt-get install
// clickhouse-server clickhouse-client, version 18.16) on a free loopback
// port with its own data directory, and stop it at the end.

func TestConformanceAgainstARealServer(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	opened := 0
	storetest.Run(t, func(t *testing.T) storetest.Store {
		// Every open after the first is a restart of the server itself,
		// so persistence is what is tested, not a client reconnect.
		if opened > 0 {
			srv.Restart()
		}
		opened++
		st, err := Open(context.Background(), Config{Addr: srv.Addr()})
		if err != nil {
			t.Fatalf("open: %v\nserver output:\n%s", err, srv.Output())
		}
		return st
	})
	if opened < 2 {
		t.Errorf("the suite opened the store %d times; a restart was expected", opened)
	}
}

func TestSchemaFollowsTheServerVersion(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	st, err := Open(ctx, Config{Addr: srv.Addr(), Database: "gated"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v := storage.ParseServerVersion(st.ServerVersion())
	if v.Major == 0 {
		t.Fatalf("unreadable server version %q", st.ServerVersion())
	}
	var types []string
	var col string
	err = (querier{st}).Query(ctx,
		"SELECT concat(name, ' ', type) FROM system.columns WHERE database = 'gated' AND table = 'sip_messages' AND name IN ('transport', 'raw') ORDER BY name",
		[]any{&col}, func() error { types = append(types, col); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"raw String", "transport String"}
	if v.AtLeast(20, 3) {
		want = []string{"raw String", "transport LowCardinality(String)"}
	}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("server %s: columns %q, want %q", st.ServerVersion(), types, want)
	}
	// Opening again on an existing schema is a no-op, not an error.
	again, err := Open(ctx, Config{Addr: srv.Addr(), Database: "gated"})
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	again.Close()
}

func TestOpenReportsAServerThatIsNotThere(t *testing.T) {
	port := servertest.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Open(ctx, Config{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	if !errors.Is(err, ErrConnect) {
		t.Errorf("error %v, want ErrConnect", err)
	}
}

// BenchmarkWriteMessages writes batches of 10 000 SIP messages of about 600
// bytes through native batches, as the embedded benchmark does.
func BenchmarkWriteMessages(b *testing.B) {
	const perBatch = 10_000
	srv := servertest.Start(b, servertest.Options{})
	ctx := context.Background()
	st, err := Open(ctx, Config{Addr: srv.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	msgs := make([]correlate.Message, perBatch)
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range msgs {
		id := fmt.Sprintf("%08x-bench@192.0.2.1", i/8)
		msgs[i] = correlate.Message{
			TS:  base.Add(time.Duration(i) * time.Millisecond),
			Src: netip.MustParseAddrPort("192.0.2.1:5060"), Dst: netip.MustParseAddrPort("198.51.100.7:5060"),
			Transport: "udp", CallID: id, IsRequest: i%2 == 0, Method: "INVITE", StatusCode: 200 * (i % 2),
			CSeq: uint32(i), CSeqMethod: "INVITE", FromUser: "alice", ToUser: "bob",
			Raw: fmt.Appendf(nil, "INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: %s\r\n%0550d\r\n\r\n", id, i),
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := st.Write(ctx, storage.Batch{Messages: msgs}); err != nil {
			b.Fatal(err)
		}
		n += perBatch
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkOpen measures connecting, SELECT version() and the idempotent
// schema statements against a running server.
func BenchmarkOpen(b *testing.B) {
	srv := servertest.Start(b, servertest.Options{})
	ctx := context.Background()
	for b.Loop() {
		st, err := Open(ctx, Config{Addr: srv.Addr()})
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}

// openOn opens a store on srv, failing t with the server's output.
func openOn(t *testing.T, srv *servertest.Server) *Store {
	t.Helper()
	st, err := Open(context.Background(), Config{Addr: srv.Addr()})
	if err != nil {
		t.Fatalf("open: %v\nserver output:\n%s", err, srv.Output())
	}
	return st
}

// reopening is the open function of the suites that restart their store:
// every open after the first restarts the server before it.
func reopening(srv *servertest.Server) func(t *testing.T) *Store {
	opened := 0
	return func(t *testing.T) *Store {
		if opened > 0 {
			srv.Restart()
		}
		opened++
		return openOn(t, srv)
	}
}

func TestUsersAndTokensAgainstARealServer(t *testing.T) {
	open := reopening(servertest.Start(t, servertest.Options{}))
	storetest.RunAuth(t, func(t *testing.T) storetest.AuthStore { return open(t) })
}

func TestRegistrationAndStreamListsAgainstARealServer(t *testing.T) {
	st := openOn(t, servertest.Start(t, servertest.Options{}))
	defer st.Close()
	storetest.RunListing(t, st)
}

func TestAlertsAndTheirEvidenceAgainstARealServer(t *testing.T) {
	open := reopening(servertest.Start(t, servertest.Options{}))
	storetest.RunAlerts(t, func(t *testing.T) storetest.AlertStore { return open(t) })
}

func TestCapturedFramesRoundTripAgainstARealServer(t *testing.T) {
	st := openOn(t, servertest.Start(t, servertest.Options{}))
	defer st.Close()
	storetest.RunPackets(t, st)
}
