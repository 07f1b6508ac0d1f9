//go:build integration && linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/internal/netnstest"
)

// liveAlertsConfig writes a serve config whose alerts section checks every
// second instead of every 10 and counts over seconds instead of minutes,
// so that an incident played by sipp in a few seconds fires and resolves
// within the test. The thresholds are the defaults; a window must be a
// multiple of the interval of at most 32 of them, so every rule gets one.
func liveAlertsConfig(t *testing.T) string {
	t.Helper()
	rules := []string{"registration_failures", "scanner", "auth_bruteforce", "failure_spike",
		"low_mos", "one_way_audio", "no_media", "long_pdd"}
	var b strings.Builder
	b.WriteString(`{"alerts": {"interval": "1s", "resolve_after": "3s", "registration_storm": {"window": "5s"}, "invite_flood": {"window": "5s"}`)
	for _, r := range rules {
		fmt.Fprintf(&b, `, %q: {"window": "10s"}`, r)
	}
	b.WriteString("}}\n")
	path := filepath.Join(t.TempDir(), "sipscope.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sippScenario is the absolute path of a scenario in testdata/sipp (sipp
// runs in a directory of its own).
func sippScenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("../../testdata/sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("sipp scenario: %v", err)
	}
	return p
}

type alertList struct {
	Alerts []storedAlert `json:"alerts"`
}

// waitAlert polls GET /api/v1/alerts?rule=rule until ok accepts one of
// the stored alerts, and returns it.
func waitAlert(t *testing.T, base, rule string, within time.Duration, ok func(storedAlert) bool) storedAlert {
	t.Helper()
	var l alertList
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		l.Alerts = nil
		getJSON(t, base+"/api/v1/alerts?rule="+rule, &l)
		for _, a := range l.Alerts {
			if ok(a) {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s alert as wanted after %v; stored: %+v", rule, within, l.Alerts)
		}
	}
}

// Issue #14, live: sipp in a network namespace plays a registration storm
// (600 phones within 6 s, each REGISTER, 401, REGISTER with credentials,
// 200, from a sipp registrar) across a veth pair that serve --iface
// captures. After a few quiet registrations (the engine's baseline) the
// registration_storm alert fires while the storm lasts and resolves after
// it, as GET /api/v1/alerts shows.
func TestSippRegistrationStormOverAVethFiresAndResolves(t *testing.T) {
	netnstest.RequireLiveRoot(t, "sipp", "sysctl")
	link := netnstest.NewUACLink(t)
	base, stopServe := startServe(t, "--config", liveAlertsConfig(t), "--data", t.TempDir(), "--iface", link.RootIf,
		"--flush", "200ms", "--ring-mb", "8", "--promisc")
	t.Cleanup(stopServe) // before the veth goes away

	registrar := link.RootIP.String() + ":5060"
	uasDir := netnstest.SippDir(t, "registrar")
	stopUAS := netnstest.StartSipp(t, uasDir, "-sf", sippScenario(t, "register_storm_uas.xml"),
		"-i", link.RootIP.String(), "-p", "5060", "-nostdin")
	defer stopUAS()
	phones := func(name string, n, rate int) *exec.Cmd {
		dir := netnstest.SippDir(t, name)
		cmd := exec.Command("ip", "netns", "exec", link.NS, "sipp", "-sf", sippScenario(t, "register_storm_uac.xml"), registrar,
			"-i", link.NsIP.String(), "-p", "5060", "-m", strconv.Itoa(n), "-r", strconv.Itoa(rate), "-nostdin", "-trace_stat")
		cmd.Dir = dir
		return cmd
	}

	// The quiet baseline: a phone a second.
	if out, err := phones("quiet", 3, 1).CombinedOutput(); err != nil {
		t.Fatalf("sipp, quiet registrations: %v\n%s", err, out)
	}
	var quiet alertList
	getJSON(t, base+"/api/v1/alerts?rule=registration_storm", &quiet)
	if len(quiet.Alerts) != 0 {
		t.Fatalf("3 registrations in 3 s raised %+v", quiet.Alerts)
	}

	const stormPhones, perSecond = 600, 100
	storm := phones("storm", stormPhones, perSecond)
	var out strings.Builder
	storm.Stdout, storm.Stderr = &out, &out
	began := time.Now()
	if err := storm.Start(); err != nil {
		t.Fatal(err)
	}
	stormDone := make(chan error, 1)
	go func() { stormDone <- storm.Wait() }()
	fired := waitAlert(t, base, "registration_storm", 20*time.Second, func(a storedAlert) bool {
		return a.Key == "global" && a.State == "firing"
	})
	firedAfter := time.Since(began)
	select {
	case err := <-stormDone:
		if err != nil {
			t.Fatalf("sipp, the storm: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		storm.Process.Kill()
		t.Fatalf("sipp's storm did not end in 60 s:\n%s", out.String())
	}
	stormSecs := time.Since(began)
	stat := netnstest.SippCSV(t, storm.Dir, "register_storm_uac_*_.csv")
	if stat["SuccessfulCall(C)"] != stormPhones {
		t.Fatalf("sipp: %d of %d phones registered (%d failed)", stat["SuccessfulCall(C)"], stormPhones, stat["FailedCall(C)"])
	}
	resolved := waitAlert(t, base, "registration_storm", 30*time.Second, func(a storedAlert) bool {
		return a.ID == fired.ID && a.State == "resolved"
	})
	t.Logf("%d phones registered in %v (%d REGISTERs a second); registration_storm %s fired %v after the storm began, resolved %v after it ended; offenders %+v",
		stormPhones, stormSecs.Round(100*time.Millisecond), 2*perSecond, fired.Key, firedAfter.Round(100*time.Millisecond),
		(time.Since(began) - stormSecs).Round(100*time.Millisecond), resolved.TopOffenders)
	offender := false
	for _, o := range resolved.TopOffenders {
		offender = offender || o.Kind == "ip" && o.Value == link.NsIP.String()
	}
	if !offender {
		t.Errorf("the phones' address %v is not among the storm's offenders %+v", link.NsIP, resolved.TopOffenders)
	}
}

// Issue #14, HEP from Kamailio: sipp sweeps 150 extensions with OPTIONS
// and the friendly-scanner User-Agent through Kamailio, which relays them
// to a sipp PBX answering 404 and mirrors every message to serve's HEP
// listener (siptrace, HEPv3). serve raises the scanner alert for the
// sweep's source, and the alert's evidence PCAP holds that source's
// OPTIONS.
func TestKamailioSiptraceOfAScannerSweepRaisesTheScannerAlert(t *testing.T) {
	netnstest.RequireLiveRoot(t, "sipp", "kamailio")
	hepIn := freeUDPAddr(t)
	base, stopServe := startServe(t, "--config", liveAlertsConfig(t), "--data", t.TempDir(),
		"--hep-listen", "udp://"+hepIn, "--flush", "200ms")
	t.Cleanup(stopServe)

	scanner, proxy, pbx := freeUDPPort(t, "127.0.0.2"), freeUDPPort(t, "127.0.0.3"), freeUDPPort(t, "127.0.0.4")
	startKamailio(t, proxy, pbx, hepIn, 2002)
	stopPBX := netnstest.StartSipp(t, netnstest.SippDir(t, "pbx"), "-sf", sippScenario(t, "options_404_uas.xml"),
		"-i", pbx.Addr().String(), "-p", strconv.Itoa(int(pbx.Port())), "-nostdin")
	defer stopPBX()
	netnstest.WaitUDPBound(t, pbx)

	const extensions = 150
	dir := netnstest.SippDir(t, "scanner")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	sweep := exec.CommandContext(ctx, "sipp", "-sf", sippScenario(t, "scanner_uac.xml"), proxy.String(),
		"-i", scanner.Addr().String(), "-p", strconv.Itoa(int(scanner.Port())),
		"-m", strconv.Itoa(extensions), "-r", "50", "-nostdin", "-trace_stat")
	sweep.Dir = dir
	if out, err := sweep.CombinedOutput(); err != nil {
		t.Fatalf("sipp, the sweep through Kamailio: %v\n%s", err, out)
	}
	if st := netnstest.SippCSV(t, dir, "scanner_uac_*_.csv"); st["SuccessfulCall(C)"] != extensions {
		t.Fatalf("sipp: %d of %d OPTIONS answered 404", st["SuccessfulCall(C)"], extensions)
	}

	src := scanner.Addr().String()
	a := waitAlert(t, base, "scanner", 20*time.Second, func(a storedAlert) bool {
		return strings.HasSuffix(a.Key, " "+src) && (a.State == "firing" || a.State == "resolved")
	})

	// The last OPTIONS may still be on its way to the store (a flush
	// every 200 ms): read the evidence until it holds the whole sweep.
	var packets, sweeps int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		packets, sweeps = evidenceOf(t, base, a.ID, src)
		if sweeps >= extensions || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("scanner alert %s (%s): evidence PCAP of %d packets, %d of them the sweep's OPTIONS from %s; offenders %+v",
		a.Key, a.State, packets, sweeps, src, a.TopOffenders)
	if sweeps != extensions {
		t.Errorf("the evidence holds %d of the sweep's %d OPTIONS from %s", sweeps, extensions, src)
	}
}

// evidenceOf reads an alert's evidence PCAP: its packets, and how many of
// them are the sweep's OPTIONS (friendly-scanner) from src.
func evidenceOf(t *testing.T, base, id, src string) (packets, sweeps int) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/alerts/" + id + "/pcap")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the alert's pcap: %s %s", resp.Status, body)
	}
	r, err := pcapgo.NewReader(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, _, err := r.ReadPacketData()
		if err == io.EOF {
			return packets, sweeps
		}
		if err != nil {
			t.Fatal(err)
		}
		packets++
		p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil {
			continue
		}
		if ip.SrcIP.String() == src && strings.HasPrefix(string(udp.Payload), "OPTIONS sip:1") &&
			strings.Contains(string(udp.Payload), "User-Agent: friendly-scanner") {
			sweeps++
		}
	}
}
