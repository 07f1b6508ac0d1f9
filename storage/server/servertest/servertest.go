// Package servertest starts a real ClickHouse server (Debian's
// clickhouse-server, 18.16) for integration tests: its own loopback port,
// configuration and data directory, stopped when the test ends. Tests
// that use it run under the integration build tag.
package servertest

import (
	"bytes"
	"fmt"
	"net"
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
)

// Options adjust the server's configuration.
type Options struct {
	// ExtraConfig is XML put inside the server's <yandex> element:
	// remote_servers, zookeeper, macros for a cluster.
	ExtraConfig string
}

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
{{extra}}
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

// Server is one server process for a test, restartable on the
// same data.
type Server struct {
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

// FreePort is a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start writes a private configuration and starts the server. As root it
// runs as the clickhouse user, as the package's init script does. The
// server is stopped and its directory removed when the test ends.
func Start(t testing.TB, o Options) *Server {
	s := &Server{t: t, bin: findServerBinary(t), port: FreePort(t)}
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
	cfg := strings.NewReplacer("{{port}}", strconv.Itoa(s.port), "{{dir}}", dir, "{{tz}}", serverTimezone, "{{extra}}", o.ExtraConfig).Replace(configTemplate)
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
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// Addr is the native protocol's host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Start starts a stopped server again on the same data.
func (s *Server) Start() {
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
		c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("clickhouse-server exited during start-up:\n%s", s.Output())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("clickhouse-server not listening on %s after 30 s:\n%s", s.Addr(), s.Output())
		}
	}
}

// Output is what the server printed so far.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// Stop ends the server gracefully, then by force, and waits for it.
func (s *Server) Stop() {
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

// Restart stops and starts the server on the same data.
func (s *Server) Restart() {
	s.Stop()
	s.Start()
}
