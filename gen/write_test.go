package gen

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func TestSameSeedWritesIdenticalBytes(t *testing.T) {
	cfg := Config{Calls: 7, Seed: 42, LossPct: 5, BurstLen: 3, JitterMs: 25, LatePct: 2, LateMs: 60, Codec: CodecMix, AltSIPPort: 5080}
	var a, b bytes.Buffer
	ta, err := Write(&a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Write(&b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two runs with the same seed wrote different bytes")
	}
	if !reflect.DeepEqual(ta, tb) {
		t.Error("two runs with the same seed returned different truths")
	}

	cfg.Seed = 43
	var c bytes.Buffer
	if _, err := Write(&c, cfg); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("a different seed wrote the same bytes")
	}
}

func TestCaptureIsAWellFormedEthernetPcap(t *testing.T) {
	for _, transport := range []string{TransportUDP, TransportTCP} {
		t.Run(transport, func(t *testing.T) {
			var buf bytes.Buffer
			truth, err := Write(&buf, Config{Calls: 5, Seed: 9, Transport: transport, JitterMs: 40})
			if err != nil {
				t.Fatal(err)
			}
			r, err := pcapgo.NewReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != layers.LinkTypeEthernet {
				t.Errorf("link type %v, want Ethernet", r.LinkType())
			}
			var n, rtp int
			var prev time.Time
			for {
				data, ci, err := r.ReadPacketData()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 && !ci.Timestamp.Equal(epoch()) {
					t.Errorf("first frame at %v, want %v", ci.Timestamp, epoch())
				}
				if ci.Timestamp.Before(prev) {
					t.Errorf("frame %d at %v goes back in time from %v", n+1, ci.Timestamp, prev)
				}
				prev = ci.Timestamp
				p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
				if el := p.ErrorLayer(); el != nil {
					t.Errorf("frame %d does not decode: %v", n+1, el.Error())
				}
				if udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && udp.DstPort != 5060 && udp.SrcPort != 5060 {
					rtp++
				}
				n++
			}
			if n != truth.Totals.Packets {
				t.Errorf("read %d frames, truth says %d", n, truth.Totals.Packets)
			}
			if rtp != truth.Totals.RTPPackets {
				t.Errorf("read %d RTP frames, truth says %d", rtp, truth.Totals.RTPPackets)
			}
		})
	}
}

func TestTruthAddsUp(t *testing.T) {
	truth, err := Write(io.Discard, Config{Calls: 15, Seed: 5, LossPct: 10, BurstLen: 2, JitterMs: 30, LatePct: 5, LateMs: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(truth.Calls) + len(truth.Registrations); got != 15 {
		t.Errorf("%d calls and registrations, want 15", got)
	}
	wantMessages := map[Scenario]int{ScenarioAnswered: 7, ScenarioBusy: 4, ScenarioCancelled: 7, ScenarioNoFinal: 2}
	sum := 0
	for _, c := range truth.Calls {
		if c.Messages != wantMessages[c.Scenario] {
			t.Errorf("call %s (%s) has %d messages, want %d", c.CallID, c.Scenario, c.Messages, wantMessages[c.Scenario])
		}
		if c.End.Before(c.Start.Time) {
			t.Errorf("call %s ends before it starts", c.CallID)
		}
		sum += c.Messages
	}
	for _, r := range truth.Registrations {
		if r.Messages != 4 || !r.Challenged || r.FinalCode != 200 {
			t.Errorf("registration %+v, want 4 messages, challenged, 200", r)
		}
		sum += r.Messages
	}
	if sum != truth.Totals.SIPMessages {
		t.Errorf("per-call messages add up to %d, totals say %d", sum, truth.Totals.SIPMessages)
	}
	reordered := 0
	for _, s := range truth.Streams {
		if s.Sent != s.Packets+s.Lost || s.Expected != s.Sent {
			t.Errorf("stream %s: sent %d, packets %d, lost %d, expected %d do not add up", s.SSRC, s.Sent, s.Packets, s.Lost, s.Expected)
		}
		if s.Sent != int(DefaultCallDuration/DefaultPtime) {
			t.Errorf("stream %s sent %d packets, want %d", s.SSRC, s.Sent, DefaultCallDuration/DefaultPtime)
		}
		reordered += s.Reordered
	}
	if reordered == 0 {
		t.Error("30 ms jitter at 20 ms ptime reordered nothing")
	}
}

func TestGilbertModelHitsItsLossRateAndBurstLength(t *testing.T) {
	tests := []struct {
		name     string
		lossPct  float64
		burstLen int
	}{
		{"independent loss at 5 percent", 5, 1},
		{"bursts of 3 at 5 percent", 5, 3},
		{"bursts of 8 at 20 percent", 20, 8},
		{"the maximum loss of 50 percent in bursts of 2", 50, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const n = 400_000
			r := rand.New(rand.NewPCG(1, 2))
			g := newGilbert(tc.lossPct, tc.burstLen)
			lost, bursts, prev := 0, 0, false
			for range n {
				d := g.drop(r)
				if d {
					lost++
					if !prev {
						bursts++
					}
				}
				prev = d
			}
			rate := 100 * float64(lost) / n
			if math.Abs(rate-tc.lossPct) > 0.05*tc.lossPct {
				t.Errorf("loss %.2f%%, want %.2f%% ±5%%", rate, tc.lossPct)
			}
			wantBurst := float64(tc.burstLen)
			if tc.burstLen == 1 {
				wantBurst = 1 / (1 - tc.lossPct/100) // runs of independent losses
			}
			if mean := float64(lost) / float64(bursts); math.Abs(mean-wantBurst) > 0.05*wantBurst {
				t.Errorf("mean burst %.3f, want %.3f ±5%%", mean, wantBurst)
			}
		})
	}
}

func TestG711EncodesReferenceValues(t *testing.T) {
	tests := []struct {
		name   string
		sample int16
		ulaw   byte
		alaw   byte
	}{
		{"silence", 0, 0xFF, 0xD5},
		{"full scale positive", 32767, 0x80, 0xAA},
		{"full scale negative", -32768, 0x00, 0x2A},
		{"minus one", -1, 0x7F, 0x55},
		{"a mid-level positive sample", 1000, 0xCE, 0xFA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ulaw(tc.sample); got != tc.ulaw {
				t.Errorf("ulaw(%d) = %#02x, want %#02x", tc.sample, got, tc.ulaw)
			}
			if got := alaw(tc.sample); got != tc.alaw {
				t.Errorf("alaw(%d) = %#02x, want %#02x", tc.sample, got, tc.alaw)
			}
		})
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no calls", Config{}, "Calls"},
		{"too many calls", Config{Calls: MaxCalls + 1}, "Calls"},
		{"negative calls per second", Config{Calls: 1, CPS: -1}, "CPS"},
		{"NaN calls per second", Config{Calls: 1, CPS: math.NaN()}, "CPS"},
		{"a start before pcap time", Config{Calls: 1, Start: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}, "Start"},
		{"negative loss", Config{Calls: 1, LossPct: -1}, "LossPct"},
		{"loss above the cap", Config{Calls: 1, LossPct: 51}, "LossPct"},
		{"NaN loss", Config{Calls: 1, LossPct: math.NaN()}, "LossPct"},
		{"negative burst length", Config{Calls: 1, BurstLen: -2}, "BurstLen"},
		{"negative jitter", Config{Calls: 1, JitterMs: -1}, "JitterMs"},
		{"late share above 100", Config{Calls: 1, LatePct: 101}, "LatePct"},
		{"negative lateness", Config{Calls: 1, LateMs: -5}, "LateMs"},
		{"negative duration", Config{Calls: 1, CallDuration: -time.Second}, "CallDuration"},
		{"ptime not whole milliseconds", Config{Calls: 1, Ptime: 20*time.Millisecond + 1}, "Ptime"},
		{"ptime too long", Config{Calls: 1, Ptime: 100 * time.Millisecond}, "Ptime"},
		{"a call shorter than two packets", Config{Calls: 1, CallDuration: 30 * time.Millisecond}, "CallDuration"},
		{"an unknown codec", Config{Calls: 1, Codec: "G729"}, "Codec"},
		{"the alternate port equal to the SIP port", Config{Calls: 1, AltSIPPort: 5060}, "AltSIPPort"},
		{"an unknown transport", Config{Calls: 1, Transport: "quic"}, "Transport"},
		{"an unknown encapsulation", Config{Calls: 1, Encap: "ppp"}, "Encap"},
		{"IPv4-in-IPv4 around IPv6 calls", Config{Calls: 1, Encap: EncapIPIP, IPv6: true}, "Encap"},
		{"IPv4-in-IPv6 around IPv6 calls", Config{Calls: 1, Encap: Encap4in6, IPv6: true}, "Encap"},
		{"6in4 around IPv4 calls", Config{Calls: 1, Encap: Encap6in4}, "IPv6"},
		{"fragments of SIP over TCP", Config{Calls: 1, Encap: EncapFragments, Transport: TransportTCP}, "Transport"},
		{"HEP of SIP over SCTP", Config{Calls: 1, Encap: EncapHEP, Transport: TransportSCTP}, "Transport"},
		{"an MTU without fragments", Config{Calls: 1, FragmentMTU: 576}, "FragmentMTU"},
		{"an MTU too small", Config{Calls: 1, Encap: EncapFragments, FragmentMTU: 100}, "FragmentMTU"},
		{"an MTU above Ethernet's", Config{Calls: 1, Encap: EncapFragments, FragmentMTU: 9000}, "FragmentMTU"},
		{"a negative segment size", Config{Calls: 1, Transport: TransportTCP, TCPSegmentSize: -1}, "TCPSegmentSize"},
		{"a segment size above the MSS", Config{Calls: 1, Transport: TransportTCP, TCPSegmentSize: 1461}, "TCPSegmentSize"},
		{"reordering above 100 percent", Config{Calls: 1, Transport: TransportTCP, TCPReorderPct: 101}, "TCPReorderPct"},
		{"NaN retransmissions", Config{Calls: 1, Transport: TransportTCP, TCPRetransmitPct: math.NaN()}, "TCPRetransmitPct"},
		{"TCP segmentation of SIP over UDP", Config{Calls: 1, TCPSegmentSize: 100}, "TCPSegmentSize"},
		{"TCP retransmissions of SIP over SCTP", Config{Calls: 1, Transport: TransportSCTP, TCPRetransmitPct: 5}, "TCPRetransmitPct"},
		{"WebSocket fragments over plain TCP", Config{Calls: 1, Transport: TransportTCP, WSFragment: true}, "WSFragment"},
		{"an unknown scenario", Config{Calls: 1, Mix: []Scenario{ScenarioBusy, "transfer"}}, "Mix[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Validate() = %q, want it to name %s", err, tc.field)
			}
			if _, werr := Write(io.Discard, tc.cfg); !errors.Is(werr, ErrInvalidConfig) {
				t.Errorf("Write accepted the config: %v", werr)
			}
		})
	}
	if err := (Config{Calls: 1}).Validate(); err != nil {
		t.Errorf("defaults are invalid: %v", err)
	}
}

// failingWriter fails after n bytes, as a full disk would.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteReportsWriterFailures(t *testing.T) {
	for _, n := range []int{0, 100, 5000} {
		if _, err := Write(&failingWriter{n: n}, Config{Calls: 2, Seed: 1}); !errors.Is(err, ErrWrite) {
			t.Errorf("failing after %d bytes: err = %v, want ErrWrite", n, err)
		}
	}
}

func TestTruthTimesMarshalWithMicroseconds(t *testing.T) {
	in := Time{time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `"2026-01-01T10:00:00.000000Z"` {
		t.Errorf("marshalled %s, want six fractional digits", b)
	}
	var out Time
	if err := json.Unmarshal(b, &out); err != nil || !out.Equal(in.Time) {
		t.Errorf("round trip gave %v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`"yesterday"`), &out); err == nil {
		t.Error("accepted a non-RFC 3339 time")
	}
}

func BenchmarkWrite(b *testing.B) {
	cfg := Config{Calls: 10, Seed: 1, Codec: CodecMix, AltSIPPort: 5080, LossPct: 5, BurstLen: 3, JitterMs: 5}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := Write(&buf, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
