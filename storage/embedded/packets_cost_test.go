package embedded

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
)

// TestCapturedFramesCostPerCallMinute measures what the packets table
// costs on disk per minute of a G.711 call (both directions, 20 ms
// packets), store_rtp full against headers, on a real speech call (the
// heplify capture, ~26 s of G.711 A-law) and a generated one (5 minutes of
// a tone, which compresses far better than speech). The README's figures
// are these logs. Headers must cost well under a third of full: the 160
// bytes of payload are three quarters of each frame.
func TestCapturedFramesCostPerCallMinute(t *testing.T) {
	generated := filepath.Join(t.TempDir(), "g711.pcap")
	f, err := os.Create(generated)
	if err != nil {
		t.Fatal(err)
	}
	const minutes = 5
	if _, err := gen.Write(f, gen.Config{Calls: 1, Seed: 7, Mix: []gen.Scenario{gen.ScenarioAnswered},
		CallDuration: minutes * time.Minute, Codec: gen.CodecPCMA}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		minutes    float64
	}{
		// The call 12013223's media runs from 8.48 s to 34.91 s of the file.
		{"speech", "../../testdata/captures/heplify__rtp_rtcp_sip_ipv4_udp.pcap", (34.908735 - 8.479371) / 60},
		{"tone", generated, minutes},
	} {
		perMinute := map[pipeline.StoreRTP]float64{}
		for _, mode := range []pipeline.StoreRTP{pipeline.StoreRTPFull, pipeline.StoreRTPHeaders} {
			s := open(t, t.TempDir())
			if _, err := pipeline.ImportFileWith(t.Context(), s, c.path, pipeline.ImportOptions{StoreRTP: mode}); err != nil {
				t.Fatal(err)
			}
			page, err := s.ListCalls(t.Context(), storage.CallFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range page.Calls {
				ids = append(ids, c.CallID)
			}
			pkts, err := s.CallPackets(t.Context(), ids)
			if err != nil {
				t.Fatal(err)
			}
			// A disk bound nothing reaches: the result is each table's size.
			r, err := s.EnforceRetention(t.Context(), storage.RetentionPolicy{MaxBytes: 1 << 50}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			b := r.TableBytes[storage.TablePackets]
			perMinute[mode] = float64(b) / c.minutes
			// A G.711 call at 20 ms sends 50 packets a second each way.
			perFrame := float64(b) / float64(len(pkts))
			t.Logf("%s, store_rtp %s: %d frames in %d bytes on disk (%.0f B per frame): %.0f kB per minute of this capture's call; "+
				"a two-way G.711 call (6,000 frames a minute) costs %.2f MB per minute, %.0f MB per call hour",
				c.name, mode, len(pkts), b, perFrame, perMinute[mode]/1e3, perFrame*6000/1e6, perFrame*6000*60/1e6)
		}
		if full, hdr := perMinute[pipeline.StoreRTPFull], perMinute[pipeline.StoreRTPHeaders]; full == 0 || hdr == 0 || hdr*3 > full && c.name == "speech" {
			t.Errorf("%s: full %.0f B/min, headers %.0f B/min", c.name, full, hdr)
		}
	}
}
