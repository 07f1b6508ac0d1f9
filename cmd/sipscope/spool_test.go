//go:build linux

package main

import (
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/internal/netnstest"
	"github.com/sipscope/sipscope/pipeline"
)

// TestLiveSpoolHoldsEveryCapturedFrame places 3 sipp calls with RTP across
// a veth while serve captures on it with a spool small enough to rotate,
// then reads the spool with tshark: it must hold every frame the capture
// took in, in time order over finished files, with exactly the SIP messages
// the sipps exchanged and the RTP packets they played and echoed.
func TestLiveSpoolHoldsEveryCapturedFrame(t *testing.T) {
	netnstest.RequireLiveRoot(t, "sipp", "sysctl", "tshark", "capinfos")
	link := netnstest.NewUACLink(t)
	spool := t.TempDir()
	// 0.1 MB files: the calls' ~1 MB of RTP needs about ten of them.
	base, stopServe := startServe(t, "--data", t.TempDir(), "--iface", link.RootIf, "--flush", "200ms", "--ring-mb", "8", "--promisc",
		"--spool-dir", spool, "--spool-size", "0.1", "--spool-keep-mb", "100")
	t.Cleanup(stopServe) // before the veth goes away

	const calls = 3
	uacOut, uasOut, uacDir, uasDir := netnstest.RunSippCalls(t, link, calls)
	uacSent, uacRetrans, _ := netnstest.SippMessages(netnstest.SippCSV(t, uacDir, "uac_pcap_*_counts.csv"))
	uasSent, uasRetrans, _ := netnstest.SippMessages(netnstest.SippCSV(t, uasDir, "uas_*_counts.csv"))
	wireSIP := uacSent + uacRetrans + uasSent + uasRetrans
	played := netnstest.SippNumber(t, uacOut, `In pcap pcap/g711a\.pcap, npkts (\d+)`)
	dtmf := netnstest.SippNumber(t, uacOut, `In pcap pcap/dtmf_2833_1\.pcap, npkts (\d+)`)
	echoed := netnstest.SippNumber(t, uasOut, `(\d+) Total echo RTP pckts 1st stream`)
	wireRTP := calls*(played+dtmf) + echoed

	// Wait until the spool has written what the socket took in, and the
	// count stands still.
	var st struct {
		Live pipeline.LiveStatus `json:"live"`
	}
	for deadline, last := time.Now().Add(10*time.Second), uint64(0); ; time.Sleep(300 * time.Millisecond) {
		getJSON(t, base+"/api/v1/status", &st)
		if st.Live.Spool == nil {
			t.Fatal("status shows no spool")
		}
		if st.Live.Spool.Frames == st.Live.Packets && st.Live.Packets == last && last > 0 {
			break
		}
		last = st.Live.Packets
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the spool wrote %d frames of the %d packets captured (%+v)", st.Live.Spool.Frames, st.Live.Packets, *st.Live.Spool)
		}
	}
	captured := st.Live.Packets
	sp := *st.Live.Spool
	if st.Live.KernelDrops+st.Live.QueueDrops+sp.QueueDrops+sp.ErrorDrops+sp.WriteErrors != 0 {
		t.Errorf("losses: %d kernel, %d queue, spool %+v", st.Live.KernelDrops, st.Live.QueueDrops, sp)
	}
	stopServe()

	// Every file is finished, named in time order, and a nanosecond
	// Ethernet pcap with the default snap length.
	ents, err := os.ReadDir(spool)
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^sipscope-\d{8}T\d{6}Z-\d{6}\.pcap$`)
	var files []string
	for _, e := range ents {
		if !name.MatchString(e.Name()) {
			t.Errorf("unexpected file %s in the spool (a temporary name left behind?)", e.Name())
			continue
		}
		files = append(files, filepath.Join(spool, e.Name()))
	}
	if len(files) < 3 {
		t.Fatalf("%d spool files, want the 0.1 MB size limit to have rotated several: %v", len(files), files)
	}
	info, err := exec.Command("capinfos", append([]string{"-T", "-r", "-t", "-E", "-l", "-c"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("capinfos: %v\n%s", err, info)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(info)), "\n") {
		// file, type, encapsulation, snap length, ..., packets
		if cols := strings.Split(line, "\t"); len(cols) < 4 || cols[1] != "nsecpcap" || cols[2] != "ether" || cols[3] != "65535" {
			t.Errorf("capinfos: %q, want a nanosecond pcap of Ethernet with snap length 65535", line)
		}
	}

	// tshark reads them: count the frames, SIP messages and RTP packets,
	// and check that time never goes back, within or across files.
	var frames, sip, rtp int
	var prev *big.Rat
	for _, f := range files {
		out, err := exec.Command("tshark", "-r", f, "-n", "--enable-heuristic", "rtp_udp", "-T", "fields",
			"-E", "occurrence=f", "-e", "frame.time_epoch", "-e", "sip.CSeq", "-e", "rtp.seq").Output()
		if err != nil {
			t.Fatalf("tshark -r %s: %v", f, err)
		}
		for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			cols := strings.Split(line, "\t")
			if len(cols) != 3 {
				t.Fatalf("%s: tshark line %q", f, line)
			}
			ts, ok := new(big.Rat).SetString(cols[0])
			if !ok {
				t.Fatalf("%s: time %q", f, cols[0])
			}
			if prev != nil && ts.Cmp(prev) < 0 {
				t.Errorf("%s: frame at %s comes after one at %s", filepath.Base(f), cols[0], prev.FloatString(9))
			}
			prev = ts
			frames++
			if cols[1] != "" {
				sip++
			}
			if cols[2] != "" {
				rtp++
			}
		}
	}
	t.Logf("spool: %d files, %d frames (%d SIP, %d RTP, %d other); capture took in %d; sipps: %d SIP messages, %d RTP packets",
		len(files), frames, sip, rtp, frames-sip-rtp, captured, wireSIP, wireRTP)
	if uint64(frames) != captured {
		t.Errorf("the spool holds %d frames, the capture took in %d", frames, captured)
	}
	if sip != wireSIP {
		t.Errorf("the spool holds %d SIP messages, the sipps exchanged %d", sip, wireSIP)
	}
	if rtp != wireRTP {
		t.Errorf("the spool holds %d RTP packets, sipp played %d×(%d+%d) and echoed %d", rtp, calls, played, dtmf, echoed)
	}
}

func TestServeRejectsABadSpoolBeforeOpeningAnything(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "sipscope.json")
	if err := os.WriteFile(config, []byte(`{"iface": ["lo"], "spool_dir": "`+dir+`", "spool_interval": "soon"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	noIface := filepath.Join(dir, "no-iface.json")
	if err := os.WriteFile(noIface, []byte(`{"spool_dir": "`+dir+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.json")
	if err := os.WriteFile(small, []byte(`{"iface": ["lo"], "spool_dir": "`+dir+`", "spool_size_mb": 600, "spool_keep_mb": 1000}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a spool without an interface to capture", []string{"--spool-dir", dir}, "--spool-dir needs --iface"},
		{"a spool of zero-sized files", []string{"--iface", "lo", "--spool-dir", dir, "--spool-size", "0"}, "--spool-size"},
		{"a rotation interval below a second", []string{"--iface", "lo", "--spool-dir", dir, "--spool-interval", "10ms"}, "Interval"},
		{"a disk bound below two files", []string{"--iface", "lo", "--spool-dir", dir, "--spool-size", "600", "--spool-keep-mb", "1000"}, "KeepBytes"},
		{"a config file with a bad interval", []string{"--config", config}, "config spool_interval"},
		{"a config file spooling without an interface", []string{"--config", noIface}, "--spool-dir needs --iface"},
		{"a config file with a disk bound below two files", []string{"--config", small}, "KeepBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			data := filepath.Join(t.TempDir(), "data")
			code := run(t.Context(), append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, tc.args...), &out, &errb)
			if code == 0 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("serve exited %d: %s; want an error naming %s", code, errb.String(), tc.want)
			}
			if _, err := os.Stat(data); err == nil {
				t.Error("serve opened its store before rejecting the spool settings")
			}
		})
	}
}
