package servertest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// zooKeeperJar is where Debian's zookeeper package puts the server.
const zooKeeperJar = "/usr/share/java/zookeeper.jar"

// StartZooKeeper starts a standalone ZooKeeper (Debian's zookeeper
// package) on a free loopback port with its own data directory, for the
// replicated tables and ON CLUSTER DDL of a test cluster; it is stopped
// when the test ends. It returns the client address.
func StartZooKeeper(t testing.TB) string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatal("java not found; install ZooKeeper with: DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper")
	}
	if _, err := os.Stat(zooKeeperJar); err != nil {
		t.Fatalf("%s missing; install it with: DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper", zooKeeperJar)
	}
	dir := t.TempDir()
	port := FreePort(t)
	cfg := fmt.Sprintf("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=srvr\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, "-Xmx256m", "-cp", "/etc/zookeeper/conf:"+zooKeeperJar,
		"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(dir, "zoo.cfg"))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ZooKeeper: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		// Listening is not serving: ClickHouse 18.16 crashes when its first
		// ZooKeeper session fails, so wait until srvr reports a mode.
		if serving(addr) {
			return addr
		}
		select {
		case <-done:
			t.Fatalf("ZooKeeper exited during start-up:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ZooKeeper not listening on %s after 30 s:\n%s", addr, out.String())
		}
	}
}

// ClusterConfig is the ExtraConfig of one server of a test cluster named
// name: one shard per port in ports, each with one replica, ZooKeeper at
// zk, this server's shard macro (its index in ports, from 1) and its own
// interserver port.
func ClusterConfig(t testing.TB, name, zk string, ports []int, self int) string {
	zkHost, zkPort, _ := net.SplitHostPort(zk)
	var b bytes.Buffer
	fmt.Fprintf(&b, "<remote_servers><%s>", name)
	for _, p := range ports {
		fmt.Fprintf(&b, "<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>%d</port></replica></shard>", p)
	}
	fmt.Fprintf(&b, "</%s></remote_servers>\n", name)
	fmt.Fprintf(&b, "<zookeeper><node><host>%s</host><port>%s</port></node></zookeeper>\n", zkHost, zkPort)
	fmt.Fprintf(&b, "<macros><shard>%02d</shard><replica>r%d</replica></macros>\n", self+1, self+1)
	fmt.Fprintf(&b, "<interserver_http_host>127.0.0.1</interserver_http_host><interserver_http_port>%d</interserver_http_port>\n", FreePort(t))
	fmt.Fprintf(&b, "<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>\n")
	return b.String()
}

// serving asks ZooKeeper's srvr command whether it serves requests.
func serving(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(c)
	return bytes.Contains(b, []byte("Mode: "))
}
