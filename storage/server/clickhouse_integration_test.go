//go:build integration

package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/storetest"
)

// These tests start a real clickhouse-server (Debian: apt-get install
// clickhouse-server clickhouse-client, version 18.16) on a free loopback
// port with its own data directory, and stop it at the end.

// serverTimezone is deliberately not UTC: nothing sipscope stores or reads
// may depend on the server's time zone.
const serverTimezone = "Asia/Kolkata"

const configTemplate = `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <tcp_port>{{port}}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{{dir}}/data/</path>
  <tmp_path>{{dir}}/data/tmp/</tmp_path>
  <user_files_path>{{dir}}/data/user_files/</user_files_path>
  <format_schema_path>{{dir}}/data/format_schemas/</format_schema_path>
  <users_config>{{dir}}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>{{tz}}</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
</yandex>
`

const usersXML = `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`

// clickhouseServer is one server process for a test, restartable on the
// same data.
type clickhouseServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

func findServerBinary(t testing.TB) string {
	for _, p := range []string{"/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p
	}
	t.Fatal("clickhouse-server not found in /usr/bin, /usr/sbin or PATH; install it with " +
		"DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client")
	return ""
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer writes a private configuration and starts the server. As
// root it runs as the clickhouse user, as the package's init script does.
func startServer(t testing.TB) *clickhouseServer {
	s := &clickhouseServer{t: t, bin: findServerBinary(t), port: freePort(t)}
	// Not t.TempDir: its parents are mode 0700 and the server may run as
	// another user.
	dir, err := os.MkdirTemp("", "sipscope-clickhouse-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("{{port}}", strconv.Itoa(s.port), "{{dir}}", dir, "{{tz}}", serverTimezone).Replace(configTemplate)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("clickhouse")
		if err != nil {
			t.Fatalf("running as root needs the clickhouse user the package creates: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(filepath.Join(dir, "data"), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.stop)
	s.start()
	return s
}

func (s *clickhouseServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *clickhouseServer) start() {
	t := s.t
	s.mu.Lock()
	cmd := exec.Command(s.bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	s.out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		t.Fatalf("start %s: %v", s.bin, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() { cmd.Wait(); close(done) }()
	s.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("clickhouse-server exited during start-up:\n%s", s.output())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("clickhouse-server not listening on %s after 30 s:\n%s", s.addr(), s.output())
		}
	}
}

func (s *clickhouseServer) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// stop ends the server gracefully, then by force, and waits for it.
func (s *clickhouseServer) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func (s *clickhouseServer) restart() {
	s.stop()
	s.start()
}

func TestConformanceAgainstARealServer(t *testing.T) {
	srv := startServer(t)
	opened := 0
	storetest.Run(t, func(t *testing.T) storetest.Store {
		// Every open after the first is a restart of the server itself,
		// so persistence is what is tested, not a client reconnect.
		if opened > 0 {
			srv.restart()
		}
		opened++
		st, err := Open(context.Background(), Config{Addr: srv.addr()})
		if err != nil {
			t.Fatalf("open: %v\nserver output:\n%s", err, srv.output())
		}
		return st
	})
	if opened < 2 {
		t.Errorf("the suite opened the store %d times; a restart was expected", opened)
	}
}

func TestSchemaFollowsTheServerVersion(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	st, err := Open(ctx, Config{Addr: srv.addr(), Database: "gated"})
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
	again, err := Open(ctx, Config{Addr: srv.addr(), Database: "gated"})
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	again.Close()
}

func TestOpenReportsAServerThatIsNotThere(t *testing.T) {
	port := freePort(t)
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
	srv := startServer(b)
	ctx := context.Background()
	st, err := Open(ctx, Config{Addr: srv.addr()})
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
	srv := startServer(b)
	ctx := context.Background()
	for b.Loop() {
		st, err := Open(ctx, Config{Addr: srv.addr()})
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}

func TestUsersAndTokensAgainstARealServer(t *testing.T) {
	srv := startServer(t)
	opened := 0
	storetest.RunAuth(t, func(t *testing.T) storetest.AuthStore {
		if opened > 0 {
			srv.restart()
		}
		opened++
		st, err := Open(context.Background(), Config{Addr: srv.addr()})
		if err != nil {
			t.Fatalf("open: %v\nserver output:\n%s", err, srv.output())
		}
		return st
	})
}

func TestRegistrationAndStreamListsAgainstARealServer(t *testing.T) {
	srv := startServer(t)
	st, err := Open(context.Background(), Config{Addr: srv.addr()})
	if err != nil {
		t.Fatalf("open: %v\nserver output:\n%s", err, srv.output())
	}
	defer st.Close()
	storetest.RunListing(t, st)
}
