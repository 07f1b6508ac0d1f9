package api_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/rtp"
	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage/embedded"
)

// wavFile is a parsed 16-bit PCM WAV file.
type wavFile struct {
	channels int
	rate     int
	samples  [][]int16 // per channel
}

func parseWAV(t *testing.T, b []byte) wavFile {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[12:16]) != "fmt " || string(b[36:40]) != "data" {
		t.Fatalf("not a canonical WAV file: % x", b[:min(len(b), 44)])
	}
	if le.Uint16(b[20:]) != 1 || le.Uint16(b[34:]) != 16 {
		t.Fatalf("format %d with %d bits, want PCM 16", le.Uint16(b[20:]), le.Uint16(b[34:]))
	}
	if int(le.Uint32(b[4:])) != len(b)-8 || int(le.Uint32(b[40:])) != len(b)-44 {
		t.Fatalf("RIFF size %d, data size %d for a %d-byte file", le.Uint32(b[4:]), le.Uint32(b[40:]), len(b))
	}
	w := wavFile{channels: int(le.Uint16(b[22:])), rate: int(le.Uint32(b[24:]))}
	data := b[44:]
	frames := len(data) / 2 / w.channels
	w.samples = make([][]int16, w.channels)
	for c := range w.channels {
		w.samples[c] = make([]int16, frames)
		for i := range frames {
			w.samples[c][i] = int16(le.Uint16(data[(i*w.channels+c)*2:]))
		}
	}
	return w
}

// goertzel is the power of samples at hz (sample rate 8 kHz), normalised
// by the length so runs of different lengths compare.
func goertzel(samples []int16, hz float64) float64 {
	k := 2 * math.Cos(2*math.Pi*hz/8000)
	var s1, s2 float64
	for _, x := range samples {
		s := float64(x) + k*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - k*s1*s2
	return p / float64(len(samples)) / float64(len(samples))
}

// capturedSeqs is the sequence numbers of every RTP packet of ssrc in the
// capture, read with the decoder straight from the file: the oracle of
// which packets were lost.
func capturedSeqs(t *testing.T, file string, ssrc uint32) map[uint16]bool {
	t.Helper()
	frames, err := pipeline.LoadFrames(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := decode.NewDecoder()
	var p decode.Packet
	var h rtp.Header
	seqs := map[uint16]bool{}
	for _, f := range frames {
		if dec.Decode(f.LinkType, f.Data, f.TS, &p) != nil || p.Transport != decode.TransportUDP || h.Unmarshal(p.Payload) != nil {
			continue
		}
		if h.SSRC == ssrc && len(h.Payload) > 0 {
			seqs[h.SequenceNumber] = true
		}
	}
	return seqs
}

// genCapture writes a generated capture and returns its path and truth.
func genCapture(t *testing.T, cfg gen.Config) (string, *gen.Truth) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "calls.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := gen.Write(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return file, truth
}

func importInto(t *testing.T, file string, opts pipeline.ImportOptions) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := pipeline.ImportFileWith(t.Context(), st, file, opts); err != nil {
		t.Fatal(err)
	}
	return st
}

func ssrcOf(t *testing.T, s gen.StreamTruth) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s.SSRC, 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// TestCallAudioPlaysTheGeneratedCallsWithTheirLossAsSilence is the
// evidence of issue #12's audio route: generated answered calls (one
// PCMU, one PCMA) whose RTP carries a known tone per side, loses
// packets in bursts and arrives with jitter and reordering are imported through the pipeline into the embedded
// store and fetched as WAV over HTTP. Each direction's file lasts exactly
// its stream (packets sent × 20 ms); the 20 ms of every packet the
// capture lacks (read from the capture file itself) are all zero, every
// other 20 ms carries sound; Goertzel finds the side's tone and neither
// the other side's nor 1.5 kHz. direction=both is stereo with each side
// in its channel at its capture-time offset, and stream=SSRC gives the
// same file as the direction it names.
func TestCallAudioPlaysTheGeneratedCallsWithTheirLossAsSilence(t *testing.T) {
	file, truth := genCapture(t, gen.Config{Calls: 2, Seed: 12, LossPct: 6, BurstLen: 3, JitterMs: 8,
		LatePct: 3, LateMs: 70, CallDuration: 6 * time.Second, Codec: gen.CodecMix, Mix: []gen.Scenario{gen.ScenarioAnswered}})
	reordered := 0
	for _, s := range truth.Streams {
		reordered += s.Reordered
	}
	if reordered == 0 {
		t.Fatal("no packet arrived out of order: the test needs reordering")
	}
	st := importInto(t, file, pipeline.ImportOptions{})
	srv := startServer(t, st)

	const spp = 160 // 20 ms at 8 kHz
	tones := map[string]float64{"caller": gen.CallerToneHz, "callee": gen.CalleeToneHz}
	lostSeen := 0
	for _, call := range truth.Calls {
		streams := map[string]gen.StreamTruth{}
		for _, s := range truth.Streams {
			if s.CallID != call.CallID {
				continue
			}
			if s.Src.Addr() == call.SrcIP {
				streams["caller"] = s
			} else {
				streams["callee"] = s
			}
		}
		if len(streams) != 2 {
			t.Fatalf("call %s: %d streams in the truth", call.CallID, len(streams))
		}
		path := "/api/v1/calls/" + url.PathEscape(call.CallID) + "/audio"
		bodies := map[string][]byte{}
		for _, dir := range []string{"caller", "callee"} {
			s := streams[dir]
			t.Run(s.Payload+" "+dir, func(t *testing.T) {
				status, h, body := get(t, srv, path+"?direction="+dir)
				if status != http.StatusOK || h.Get("Content-Type") != "audio/wav" {
					t.Fatalf("status %d, %s: %s", status, h.Get("Content-Type"), body)
				}
				wantName := `attachment; filename="` + strings.TrimSuffix(api.PCAPFilename(call.CallID), ".pcap") + "-" + dir + `.wav"`
				if got := h.Get("Content-Disposition"); got != wantName {
					t.Errorf("Content-Disposition %q, want %q", got, wantName)
				}
				if h.Get("Content-Length") != strconv.Itoa(len(body)) {
					t.Errorf("Content-Length %s for %d bytes", h.Get("Content-Length"), len(body))
				}
				bodies[dir] = body
				w := parseWAV(t, body)
				if w.channels != 1 || w.rate != 8000 {
					t.Fatalf("%d channels at %d Hz", w.channels, w.rate)
				}
				pcm := w.samples[0]
				if len(pcm) != s.Sent*spp {
					t.Fatalf("%d samples (%v); the stream lasted %d packets (%v)", len(pcm),
						time.Duration(len(pcm))*125*time.Microsecond, s.Sent, time.Duration(s.Sent)*20*time.Millisecond)
				}
				seqs := capturedSeqs(t, file, ssrcOf(t, s))
				lost := 0
				for k := range s.Sent {
					block := pcm[k*spp : (k+1)*spp]
					nonZero := 0
					for _, x := range block {
						if x != 0 {
							nonZero++
						}
					}
					if !seqs[s.FirstSeq+uint16(k)] {
						lost++
						if nonZero != 0 {
							t.Fatalf("packet %d was lost, but its 20 ms hold %d non-zero samples", k, nonZero)
						}
					} else if nonZero < spp/2 {
						t.Fatalf("packet %d was captured, but its 20 ms hold only %d non-zero samples", k, nonZero)
					}
				}
				if lost != s.Lost || lost == 0 {
					t.Fatalf("%d packets silent as lost; the truth lost %d (the test needs loss)", lost, s.Lost)
				}
				lostSeen += lost
				if got := h.Get("X-Sipscope-Audio-Lost"); got != strconv.Itoa(s.Lost) {
					t.Errorf("X-Sipscope-Audio-Lost %s, want %d", got, s.Lost)
				}
				tone, other := tones[dir], tones["callee"]
				if dir == "callee" {
					other = tones["caller"]
				}
				at, off, far := goertzel(pcm, tone), goertzel(pcm, other), goertzel(pcm, 1500)
				t.Logf("%s %s: %d samples, %d lost packets; power at %v Hz %.0f, at %v Hz %.0f, at 1500 Hz %.0f",
					s.Payload, dir, len(pcm), lost, tone, at, other, off, far)
				if at < 1000*off || at < 1000*far {
					t.Fatalf("the %v Hz tone does not stand out: %.0f vs %.0f at %v Hz and %.0f at 1500 Hz", tone, at, off, other, far)
				}
				// The stream's SSRC, hex or decimal, names the same audio.
				for _, v := range []string{s.SSRC, strconv.FormatUint(uint64(ssrcOf(t, s)), 10)} {
					status, _, b := get(t, srv, path+"?stream="+v)
					if status != http.StatusOK || !bytes.Equal(b[44:], body[44:]) {
						t.Fatalf("stream=%s: status %d, same samples %v", v, status, bytes.Equal(b[44:], body[44:]))
					}
				}
			})
		}
		t.Run(streams["caller"].Payload+" stereo", func(t *testing.T) {
			status, h, body := get(t, srv, path+"?direction=both")
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			if !strings.HasSuffix(h.Get("Content-Disposition"), `-both.wav"`) {
				t.Errorf("Content-Disposition %q", h.Get("Content-Disposition"))
			}
			w := parseWAV(t, body)
			if w.channels != 2 {
				t.Fatalf("%d channels", w.channels)
			}
			// Both sides on one capture clock, cut into 125 µs samples
			// since the Unix epoch: each starts at its first packet's
			// capture time, the earlier of the two at sample 0.
			sample := func(s gen.StreamTruth) int64 { return (s.Start.UnixMicro() + 62) / 125 }
			origin := min(sample(streams["caller"]), sample(streams["callee"]))
			end := int64(0)
			for c, dir := range []string{"caller", "callee"} {
				s := streams[dir]
				at := int(sample(s) - origin)
				end = max(end, int64(at+s.Sent*spp))
				pcm := w.samples[c]
				for i := range at {
					if pcm[i] != 0 {
						t.Fatalf("channel %d (%s) has sound at sample %d, before its stream starts at %d", c, dir, i, at)
					}
				}
				if pcm[at+1] == 0 {
					t.Fatalf("channel %d (%s) is silent at its stream's start, sample %d", c, dir, at)
				}
				mono := parseWAV(t, bodies[dir]).samples[0]
				if !slicesEqual(pcm[at:at+len(mono)], mono) {
					t.Fatalf("channel %d (%s) is not the %s file shifted by %d samples", c, dir, dir, at)
				}
				if p, q := goertzel(pcm, tones[dir]), goertzel(pcm, 1500); p < 1000*q {
					t.Fatalf("channel %d (%s): %v Hz power %.0f, 1500 Hz %.0f", c, dir, tones[dir], p, q)
				}
			}
			if int64(len(w.samples[0])) != end {
				t.Fatalf("%d samples a channel, want %d (first start to last end)", len(w.samples[0]), end)
			}
		})
	}
	if lostSeen == 0 {
		t.Fatal("no packet was lost: the silence check proved nothing")
	}
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// withPayloadType rewrites the payload type of every RTP packet of a
// capture sent from port minSrc or above (UDP between media ports: gen
// puts callers' at 10000 and up, callees' at 20000 and up) and writes the
// result to a new file.
func withPayloadType(t *testing.T, file string, pt uint8, minSrc uint16) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "rewritten.pcap")
	if _, err := gen.RewritePayloadTypeFile(file, out, pt, minSrc); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCallAudioSaysWhyACallHasNone: every refusal of the audio route is a
// JSON error that says why: no media, media stored without payload
// (store_rtp headers) or not at all (store_rtp none), a codec it cannot
// decode (named), a stream the call does not have, bad parameters.
func TestCallAudioSaysWhyACallHasNone(t *testing.T) {
	// One store (chDB allows one session a process), four imports of
	// captures with their own Call-IDs (their own seeds), each stored its
	// own way.
	st, err := embedded.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	answeredOf := func(seed uint64, opts pipeline.ImportOptions, pt uint8, minSrc uint16) (answered, busy gen.CallTruth) {
		file, truth := genCapture(t, gen.Config{Calls: 2, Seed: seed, Mix: []gen.Scenario{gen.ScenarioAnswered, gen.ScenarioBusy}})
		if pt != 0 {
			file = withPayloadType(t, file, pt, minSrc)
		}
		if _, err := pipeline.ImportFileWith(t.Context(), st, file, opts); err != nil {
			t.Fatal(err)
		}
		if truth.Calls[0].State != "answered" || truth.Calls[1].State != "failed" {
			t.Fatalf("calls %s and %s", truth.Calls[0].State, truth.Calls[1].State)
		}
		return truth.Calls[0], truth.Calls[1]
	}
	answered, busy := answeredOf(3, pipeline.ImportOptions{}, 0, 0)
	headers, _ := answeredOf(4, pipeline.ImportOptions{StoreRTP: pipeline.StoreRTPHeaders}, 0, 0)
	none, _ := answeredOf(5, pipeline.ImportOptions{StoreRTP: pipeline.StoreRTPNone}, 0, 0)
	g729, _ := answeredOf(6, pipeline.ImportOptions{}, 18, 10000)
	g729Callee, _ := answeredOf(7, pipeline.ImportOptions{}, 18, 20000) // only the callee's RTP
	srv := startServer(t, st)

	audioOf := func(id, query string) string {
		return "/api/v1/calls/" + url.PathEscape(id) + "/audio" + query
	}
	cases := []struct {
		name   string
		path   string
		status int
		says   string
		field  string // a JSON field the error must carry, with its value after '='
	}{
		{"a call that never had media has no audio", audioOf(busy.CallID, ""), 404, "no stored RTP packets", ""},
		{"a call whose RTP was stored without payload says store_rtp headers", audioOf(headers.CallID, ""), 409, "store_rtp headers", ""},
		{"a call whose RTP was not stored says store_rtp none", audioOf(none.CallID, "?direction=both"), 409, "store_rtp none", ""},
		{"a G.729 call is refused naming the codec", audioOf(g729.CallID, "?direction=callee"), 415, "cannot play g729 audio", "codec=g729"},
		{"an SSRC the call does not have is not found", audioOf(answered.CallID, "?stream=0x1"), 404, "SSRC 0x00000001", ""},
		{"one stream cannot be stereo", audioOf(answered.CallID, "?stream=1&direction=both"), 400, "one channel", "param=direction"},
		{"an unknown direction is refused naming the parameter", audioOf(answered.CallID, "?direction=sideways"), 400, "caller, callee or both", "param=direction"},
		{"an SSRC that is not a number is refused naming the parameter", audioOf(answered.CallID, "?stream=ssrc"), 400, "SSRC", "param=stream"},
		{"an unknown call is not found", audioOf("nobody@nowhere", ""), 404, "call not found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := get(t, srv, tc.path)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Fatalf("Content-Type %q", h.Get("Content-Type"))
			}
			var e map[string]string
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if !strings.Contains(e["error"], tc.says) {
				t.Errorf("error %q does not say %q", e["error"], tc.says)
			}
			if k, v, ok := strings.Cut(tc.field, "="); ok && e[k] != v {
				t.Errorf("%s is %q, want %q", k, e[k], v)
			}
		})
	}
	t.Run("a stereo file plays the side it can decode and names the other's codec", func(t *testing.T) {
		status, h, body := get(t, srv, audioOf(g729Callee.CallID, "?direction=both"))
		if status != http.StatusOK || h.Get("X-Sipscope-Audio-Unsupported") != "g729" {
			t.Fatalf("status %d, X-Sipscope-Audio-Unsupported %q: %.200s", status, h.Get("X-Sipscope-Audio-Unsupported"), body)
		}
		w := parseWAV(t, body)
		left, right := 0, 0
		for i := range w.samples[0] {
			if w.samples[0][i] != 0 {
				left++
			}
			if w.samples[1][i] != 0 {
				right++
			}
		}
		if left < len(w.samples[0])/2 || right != 0 {
			t.Fatalf("%d of %d samples sound left (caller, PCMU), %d right (callee, G.729)", left, len(w.samples[0]), right)
		}
	})
}

// TestCallAudioOfARealCallIsItsPacketsAsTsharkReadsThem imports a real
// capture (heplify's, an A-law call whose caller signals from one host
// and sends media from another, and whose callee suppresses silence for
// up to 5.9 s) and checks each direction's file against tshark's reading
// of the original packets: every packet's 20 ms sit at its RTP timestamp's
// offset and are its payload through the G.711 A-law table, every sample
// no packet covers is zero, and the file ends with the last packet.
func TestCallAudioOfARealCallIsItsPacketsAsTsharkReadsThem(t *testing.T) {
	const (
		capture = "../testdata/captures/heplify__rtp_rtcp_sip_ipv4_udp.pcap"
		callID  = "12013223@200.57.7.195"
	)
	st := importInto(t, capture, pipeline.ImportOptions{})
	srv := startServer(t, st)
	type pk struct {
		ts      int64
		payload []byte
	}
	// Every RTP packet the SDP explains, by SSRC and destination.
	streams := map[string][]pk{}
	for _, l := range tshark(t, capture, "-Y", "rtp", "-T", "fields", "-e", "rtp.ssrc", "-e", "ip.dst", "-e", "udp.dstport",
		"-e", "rtp.timestamp", "-e", "rtp.p_type", "-e", "rtp.payload") {
		f := strings.Split(l, "\t")
		if len(f) != 6 || f[4] != "8" {
			t.Fatalf("tshark line %q: want an A-law packet", l)
		}
		ts, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		p, err := hexBytes(f[5])
		if err != nil {
			t.Fatal(err)
		}
		k := f[0] + " " + f[1] + ":" + f[2]
		streams[k] = append(streams[k], pk{ts, p})
	}
	for _, tc := range []struct {
		dir, stream string
	}{
		// To where each side's SDP asked to receive audio.
		{"caller", "0x58f33dea 200.57.7.204:8000"},
		{"callee", "0xd2bd4e3e 200.57.7.196:40376"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			pks := streams[tc.stream]
			lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
			for _, p := range pks {
				lo, hi = min(lo, p.ts), max(hi, p.ts+int64(len(p.payload)))
			}
			if len(pks) < 100 {
				t.Fatalf("tshark found %d packets", len(pks))
			}
			status, _, body := get(t, srv, "/api/v1/calls/"+url.PathEscape(callID)+"/audio?direction="+tc.dir)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			pcm := parseWAV(t, body).samples[0]
			if int64(len(pcm)) != hi-lo {
				t.Fatalf("%d samples; tshark's packets span %d from the first timestamp to the end of the last", len(pcm), hi-lo)
			}
			covered := make([]bool, len(pcm))
			for _, p := range pks {
				at := p.ts - lo
				for i, b := range p.payload {
					if got, want := pcm[at+int64(i)], alawOracle(b); got != want {
						t.Fatalf("timestamp %d sample %d: %d, want %d (A-law 0x%02X)", p.ts, i, got, want, b)
					}
					covered[at+int64(i)] = true
				}
			}
			silent := 0
			for i, c := range covered {
				if !c {
					silent++
					if pcm[i] != 0 {
						t.Fatalf("sample %d: no packet covers it, yet it is %d", i, pcm[i])
					}
				}
			}
			t.Logf("%s: %d packets, %.2f s, %.2f s of it suppressed silence", tc.dir, len(pks), float64(len(pcm))/8000, float64(silent)/8000)
		})
	}
}

// hexBytes reads tshark's "aa:bb:cc" bytes.
func hexBytes(s string) ([]byte, error) {
	return hex.DecodeString(strings.ReplaceAll(s, ":", ""))
}

// alawOracle is G.711 A-law expansion written from the standard's
// decision table (ITU-T G.711 table 1a): the level of segment s, step q
// is the midpoint (2q+1) in segment 0 and (2q+33)·2^(s-1) above, in
// 13-bit units, ×8 for 16 bits; the sign bit set after inverting the
// even bits is positive.
func alawOracle(b byte) int16 {
	a := b ^ 0x55
	s, q := int(a>>4&7), int(a&15)
	v := 2*q + 1
	if s > 0 {
		v = (2*q + 33) << (s - 1)
	}
	v *= 8
	if a&0x80 == 0 {
		v = -v
	}
	return int16(v)
}
