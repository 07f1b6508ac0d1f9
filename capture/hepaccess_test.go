package capture

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/hep"
)

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// dialTCPFrom connects to the listener's TCP port from a given loopback
// address (every 127/8 address is local on Linux), so one test can play
// many sources.
func dialTCPFrom(t *testing.T, s *HEPSource, from string) *net.TCPConn {
	t.Helper()
	_, tcp := s.Addrs()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: hepWait}
	c, err := d.Dial("tcp", tcp[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func sendUDPFrom(t *testing.T, s *HEPSource, from string, pkts ...[]byte) {
	t.Helper()
	udp, _ := s.Addrs()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, net.UDPAddrFromAddrPort(udp[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range pkts {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

// hepPacketWithKey is hepPacket with an auth key chunk.
func hepPacketWithKey(t *testing.T, key, tag string) []byte {
	t.Helper()
	var p hep.Packet
	if err := p.Unmarshal(hepPacket(t, 7, "", tag)); err != nil {
		t.Fatal(err)
	}
	p.AuthKey = []byte(key)
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// warnLines counts the log lines of one reason.
func warnLines(log, reason string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "reason="+reason) {
			n++
		}
	}
	return n
}

// sendAndReceive has a real sender connect from 127.0.0.1, send n packets
// and checks that all of them come out of Next, in order.
func sendAndReceive(t *testing.T, s *HEPSource, n int) *net.TCPConn {
	t.Helper()
	c := dialTCPFrom(t, s, "127.0.0.1")
	var want [][]byte
	for i := range n {
		p := hepPacket(t, 1, "real", "call-"+string(rune('a'+i%26)))
		want = append(want, p)
		if _, err := c.Write(p); err != nil {
			t.Fatalf("the real sender could not write: %v", err)
		}
	}
	for i := range n {
		if f := mustNext(t, s); !bytes.Equal(f.Data, want[i]) {
			t.Fatalf("packet %d of the real sender differs", i)
		}
	}
	return c
}

func TestIdleConnectionsCannotLockOutARealSender(t *testing.T) {
	const idle = 300
	t.Run("300 idle connections from one address leave room for a real sender from another", func(t *testing.T) {
		logs := &syncBuffer{}
		reg := prometheus.NewPedanticRegistry()
		s, _, _ := startHEP(t, HEPConfig{
			TCP:         []string{"127.0.0.1:0"},
			IdleTimeout: 2 * time.Second,
			Logger:      slog.New(slog.NewTextHandler(logs, nil)),
			Registerer:  reg,
		})
		for range idle {
			dialTCPFrom(t, s, "127.0.0.2")
		}
		eventually(t, "every idle connection is accepted or refused", func() bool {
			st := s.Stats()
			return st.RejectedPerSource+st.ClosedIdle+uint64(st.TCPConns) == idle
		})
		sendAndReceive(t, s, 100)
		// The idle timeout then closes every idle connection, and the real
		// sender's once it is quiet too.
		eventually(t, "the idle timeout closes every connection", func() bool { return s.Stats().TCPConns == 0 })
		st := s.Stats()
		t.Logf("stats %+v", st)
		if st.RejectedPerSource+st.ClosedIdle != idle+1 {
			t.Errorf("%d refused + %d closed idle, want %d: every connection either refused or closed", st.RejectedPerSource, st.ClosedIdle, idle+1)
		}
		if st.RejectedPerSource < idle/2 || st.RejectedMaxConns != 0 || st.TCPConnsRejected != st.RejectedPerSource {
			t.Errorf("the per-source limit refused %d of %d idle connections (total %d, max_conns %d)",
				st.RejectedPerSource, idle, st.TCPConnsRejected, st.RejectedMaxConns)
		}
		for _, m := range []struct {
			name, reason string
			want         uint64
		}{
			{"sipscope_capture_hep_connections_rejected_total", "max_conns_per_source", st.RejectedPerSource},
			{"sipscope_capture_hep_connections_rejected_total", "max_conns", 0},
			{"sipscope_capture_hep_connections_closed_total", "idle_timeout", st.ClosedIdle},
			{"sipscope_capture_hep_tcp_conns_rejected_total", "", st.TCPConnsRejected},
		} {
			if got := reasonValue(t, reg, m.name, m.reason); got != float64(m.want) {
				t.Errorf("%s{reason=%q} = %v, want %d", m.name, m.reason, got, m.want)
			}
		}
		if n := warnLines(logs.String(), "max_conns_per_source"); n != 1 {
			t.Errorf("%d warnings for %d refusals, want one per minute:\n%s", n, st.RejectedPerSource, logs)
		}
		if !strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("refusals are not logged at WARN:\n%s", logs)
		}
	})
	t.Run("300 idle connections from 300 addresses free the global cap after the idle timeout", func(t *testing.T) {
		s, _, _ := startHEP(t, HEPConfig{TCP: []string{"127.0.0.1:0"}, MaxTCPConns: 64, IdleTimeout: 2 * time.Second})
		for i := range idle {
			dialTCPFrom(t, s, netip.AddrFrom4([4]byte{127, 0, 1 + byte(i/250), 1 + byte(i%250)}).String())
		}
		eventually(t, "every idle connection is refused or closed", func() bool {
			st := s.Stats()
			return st.TCPConns == 0 && st.RejectedMaxConns+st.ClosedIdle == idle
		})
		st := s.Stats()
		if st.RejectedMaxConns == 0 || st.ClosedIdle < 64 {
			t.Errorf("stats %+v: want the cap to refuse some and the idle timeout to close at least 64", st)
		}
		sendAndReceive(t, s, 100)
	})
}

func TestAReadTimeoutClosesAConnectionThatDripsAPacket(t *testing.T) {
	s, _, _ := startHEP(t, HEPConfig{TCP: []string{"127.0.0.1:0"}, ReadTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute})
	c := dialTCPFrom(t, s, "127.0.0.1")
	pkt := hepPacket(t, 1, "", "slow")
	// One byte every 20 ms: never idle, but the packet would take seconds.
	go func() {
		for i := range pkt {
			if _, err := c.Write(pkt[i : i+1]); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	waitClosedByPeer(t, c)
	eventually(t, "the connection is gone", func() bool { return s.Stats().TCPConns == 0 })
	if st := s.Stats(); st.ClosedReadTimeout != 1 || st.ClosedIdle != 0 || st.BadPackets != 1 || st.Received != 0 {
		t.Errorf("stats %+v: want one read timeout with its packet counted bad", st)
	}
}

func TestTheAuthKeyIsRequiredWhenConfigured(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s, _, _ := startHEP(t, HEPConfig{AuthKey: "s3cret", Registerer: reg})
	legacy := []byte{2, 16, hep.FamilyIPv4, 17, 0x13, 0xc4, 0x13, 0xc4, 192, 0, 2, 1, 192, 0, 2, 2,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	legacy = append(legacy, "OPTIONS sip:x SIP/2.0\r\n\r\n"...)
	var p hep.Packet
	if err := p.Unmarshal(legacy); err != nil {
		t.Fatalf("the HEPv2 fixture does not parse: %v", err)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		ok   bool
	}{
		{"a packet with the key is received", hepPacketWithKey(t, "s3cret", "good"), true},
		{"a packet without a key is dropped", hepPacket(t, 1, "", "nokey"), false},
		{"a packet with a wrong key is dropped", hepPacketWithKey(t, "s3creT", "wrong"), false},
		{"a packet with the key as a prefix of its own is dropped", hepPacketWithKey(t, "s3cret!", "longer"), false},
		{"a HEPv2 packet, which cannot carry a key, is dropped", legacy, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Stats()
			sendUDP(t, s, tc.pkt)
			eventually(t, "the datagram is accounted for", func() bool {
				st := s.Stats()
				return st.Received+st.AuthFailed == before.Received+before.AuthFailed+1
			})
			if st := s.Stats(); (st.Received == before.Received+1) != tc.ok {
				t.Errorf("received %d → %d, auth failed %d → %d", before.Received, st.Received, before.AuthFailed, st.AuthFailed)
			}
			if tc.ok {
				if f := mustNext(t, s); !bytes.Equal(f.Data, tc.pkt) {
					t.Error("the packet with the key came out changed")
				}
			}
		})
	}
	t.Run("a TCP connection that sends a packet without the key is closed", func(t *testing.T) {
		c := dialTCP(t, s)
		c.Write(hepPacketWithKey(t, "guess", "tcp"))
		waitClosedByPeer(t, c)
		eventually(t, "the connection is gone", func() bool { return s.Stats().TCPConns == 0 })
		if st := s.Stats(); st.ClosedAuth != 1 {
			t.Errorf("stats %+v: want one connection closed for its key", st)
		}
	})
	if v, _ := metricValue(t, reg, "sipscope_capture_hep_packets_total", "auth_failed"); v != 5 {
		t.Errorf("sipscope_capture_hep_packets_total{result=auth_failed} = %v, want 5", v)
	}
}

func TestOnlyAllowedSourcesAreHeard(t *testing.T) {
	logs := &syncBuffer{}
	s, _, _ := startHEP(t, HEPConfig{Allow: []string{"127.0.0.1", "10.0.0.0/8"}, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	sendUDPFrom(t, s, "127.0.0.2", hepPacket(t, 1, "", "outsider"), hepPacket(t, 1, "", "outsider2"))
	want := hepPacket(t, 1, "", "insider")
	sendUDPFrom(t, s, "127.0.0.1", want)
	if f := mustNext(t, s); !bytes.Equal(f.Data, want) {
		t.Error("the allowed source's datagram came out changed")
	}
	eventually(t, "the outsider's datagrams are counted", func() bool { return s.Stats().NotAllowed == 2 })

	waitClosedByPeer(t, dialTCPFrom(t, s, "127.0.0.3"))
	eventually(t, "the outsider's connection is counted", func() bool { return s.Stats().RejectedNotAllowed == 1 })
	if st := s.Stats(); st.Received != 1 || st.TCPConnsRejected != 1 {
		t.Errorf("stats %+v", st)
	}
	if n := warnLines(logs.String(), "not_allowed"); n != 1 {
		t.Errorf("%d warnings, want 1 (rate-limited):\n%s", n, logs)
	}
}

func TestHEPConfigValidateNamesTheNewFields(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   HEPConfig
		field string
	}{
		{"an allowlist entry that is no CIDR", HEPConfig{UDP: []string{":0"}, Allow: []string{"10.0.0.0/8", "10.0.0/8"}}, "Allow[1]"},
		{"a negative idle timeout", HEPConfig{UDP: []string{":0"}, IdleTimeout: -time.Second}, "IdleTimeout"},
		{"a negative read timeout", HEPConfig{UDP: []string{":0"}, ReadTimeout: -1}, "ReadTimeout"},
		{"a negative per-source limit", HEPConfig{UDP: []string{":0"}, MaxTCPConnsPerSource: -1}, "MaxTCPConnsPerSource"},
		{"an auth key no chunk can hold", HEPConfig{UDP: []string{":0"}, AuthKey: strings.Repeat("k", 70000)}, "AuthKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, ErrHEPConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Validate = %v, want ErrHEPConfig naming %s", err, tc.field)
			}
		})
	}
	ok := HEPConfig{UDP: []string{":0"}, Allow: []string{"192.0.2.7", "2001:db8::/32", "::ffff:10.0.0.0/104"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("a valid allowlist: %v", err)
	}
	allow, _ := parseHEPAllow(ok.Allow)
	for a, want := range map[string]bool{"192.0.2.7": true, "192.0.2.8": false, "2001:db8::1": true, "10.1.2.3": true, "11.0.0.1": false} {
		if got := allow.allows(netip.MustParseAddr(a)); got != want {
			t.Errorf("allows(%s) = %v, want %v", a, got, want)
		}
	}
}

func TestWarningsAreRateLimitedPerReason(t *testing.T) {
	logs := &syncBuffer{}
	w := hepWarnings{log: slog.New(slog.NewTextHandler(logs, nil)), every: time.Hour}
	from := netip.MustParseAddr("192.0.2.1")
	for range 1000 {
		w.note(refusedMaxConns, from)
		w.note(closedReadTimeout, from)
	}
	if a, b := warnLines(logs.String(), "max_conns"), warnLines(logs.String(), "read_timeout"); a != 1 || b != 1 {
		t.Errorf("%d and %d lines for 1000 events each, want 1 each", a, b)
	}
	w.every = 0 // the interval over: the next line says how many it swallowed
	w.note(refusedMaxConns, from)
	if !strings.Contains(logs.String(), "more_since_last_line=999") {
		t.Errorf("the next line does not count the quiet events:\n%s", logs)
	}
}

func TestThePerSourceLimitCountsAnIPv6HostByItsSlash64(t *testing.T) {
	a, b := netip.MustParseAddr("2001:db8:1:2::10"), netip.MustParseAddr("2001:db8:1:2:ffff::99")
	if sourceKey(a) != sourceKey(b) {
		t.Error("two addresses of one /64 count as two sources")
	}
	if c := netip.MustParseAddr("2001:db8:1:3::10"); sourceKey(a) == sourceKey(c) {
		t.Error("two /64s count as one source")
	}
	if v4 := netip.MustParseAddr("192.0.2.1"); sourceKey(v4) != v4 {
		t.Error("an IPv4 address is not its own source")
	}
}

// reasonValue finds a counter by its reason label (none: the unlabelled
// one); absent counts as -1.
func reasonValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason == "" || labelIs(m, "reason", reason) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func TestASenderThatKeepsSendingOutlivesTheIdleTimeout(t *testing.T) {
	s, _, _ := startHEP(t, HEPConfig{TCP: []string{"127.0.0.1:0"}, IdleTimeout: 2 * time.Second})
	c := dialTCPFrom(t, s, "127.0.0.1")
	start := time.Now()
	n := 0
	// Gaps of 300 ms for longer than the idle timeout in all.
	for time.Since(start) < 3*time.Second {
		if _, err := c.Write(hepPacket(t, 1, "", "keepalive")); err != nil {
			t.Fatalf("write %d after %v: %v", n, time.Since(start), err)
		}
		mustNext(t, s)
		n++
		time.Sleep(300 * time.Millisecond)
	}
	if st := s.Stats(); st.ClosedIdle != 0 || st.TCPConns != 1 || st.Received != uint64(n) {
		t.Errorf("stats %+v after %d packets: an active connection was closed", st, n)
	}
}
