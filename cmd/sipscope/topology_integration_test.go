//go:build integration && linux

package main

import (
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/internal/heptest"
	"github.com/sipscope/sipscope/internal/netnstest"
	"github.com/sipscope/sipscope/storage/server/servertest"
)

const topologyCluster = "sipscope_topology"

// edgeCalls is what one edge's own API shows once its calls are over.
type edgeCalls map[string][]api.StreamView // Call-ID → its streams

// waitEdgeCalls reads an edge's API until it shows calls answered calls
// whose streams hold every RTP packet the UAS echoed (echoed, from sipp),
// and returns each call's streams.
func waitEdgeCalls(t *testing.T, base string, link netnstest.UACLink, calls, echoed int) edgeCalls {
	t.Helper()
	echoSrc := netip.AddrPortFrom(link.RootIP, 6000).String()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var list api.CallListView
		getJSON(t, base+"/api/v1/calls?limit=100", &list)
		out := edgeCalls{}
		echo := 0
		for _, c := range list.Calls {
			var d api.CallDetailView
			getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
			if d.Call.State != "answered" {
				continue
			}
			out[c.CallID] = d.RTPStreams
			for _, s := range d.RTPStreams {
				if s.Src == echoSrc {
					echo += s.Packets
				}
			}
		}
		if len(out) == calls && echo == echoed {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge on %s shows %d answered calls with %d echoed RTP packets; sipp placed %d, echoed %d", link.RootIf, len(out), echo, calls, echoed)
		}
	}
}

// TestTopologyTwoEdgesOneCollectorTwoNodeCluster is the scale-out
// topology of one binary: two edges (serve --iface --hep-send
// --hep-send-rtcp --hep-send-stats), each capturing sipp calls with RTP
// on the veth of its own namespace, forward HEP to one collector (serve
// --hep-listen --clickhouse --clickhouse-cluster) that writes to a
// two-node ClickHouse 18.16 cluster. The collector sees no RTP, yet its
// API lists every call once with both directions' RTP statistics equal
// to what the edge that captured the call shows in its own API; and both
// cluster nodes hold every call once.
func TestTopologyTwoEdgesOneCollectorTwoNodeCluster(t *testing.T) {
	netnstest.RequireLiveRoot(t, "sipp", "sysctl")
	began := time.Now()
	phase := func(what string) { t.Logf("%5.1fs %s", time.Since(began).Seconds(), what) }
	zk := servertest.StartZooKeeper(t)
	ports := []int{servertest.FreePort(t), servertest.FreePort(t)}
	var nodes []*servertest.Server
	for i, p := range ports {
		nodes = append(nodes, servertest.Start(t, servertest.Options{Port: p, ExtraConfig: servertest.ClusterConfig(t, topologyCluster, zk, ports, i)}))
	}
	phase("cluster up")
	const db = "topology"
	hepAddr := heptest.FreeAddr(t)
	// The collector resumes open calls at start: its query over the
	// Distributed tables must use GLOBAL IN, which 18.16 insists on.
	collBase, stopColl := startServe(t, "--data", t.TempDir(), "--clickhouse", "clickhouse://default@"+nodes[0].Addr()+"/"+db,
		"--clickhouse-cluster", topologyCluster, "--hep-listen", "tcp://"+hepAddr, "--flush", "200ms")
	defer stopColl()
	phase("collector up")

	const calls = 2 // per edge
	type edge struct {
		name  string
		link  netnstest.UACLink
		serve *childServe
		calls edgeCalls
	}
	edges := []*edge{{name: "edge-a"}, {name: "edge-b"}}
	for i, e := range edges {
		e.link = netnstest.NewUACLink(t)
		// Started after its link, so stopped (cleanups run last-in
		// first-out) before the veth goes away.
		e.serve = startChildServe(t, "--data", t.TempDir(), "--iface", e.link.RootIf, "--flush", "200ms", "--ring-mb", "8", "--promisc",
			"--hep-send", "tcp://"+hepAddr, "--hep-send-rtcp", "--hep-send-stats",
			"--hep-node-id", strconv.Itoa(i+1), "--hep-node-name", e.name)
	}
	phase("edges up")
	for _, e := range edges {
		uacOut, uasOut, uacDir, _ := netnstest.RunSippCalls(t, e.link, calls)
		uacStat := netnstest.SippCSV(t, uacDir, "uac_pcap_*_.csv")
		if uacStat["SuccessfulCall(C)"] != calls || uacStat["FailedCall(C)"] != 0 {
			t.Fatalf("%s: sipp UAC: %d successful, %d failed calls, want %d and 0\n%s", e.name, uacStat["SuccessfulCall(C)"], uacStat["FailedCall(C)"], calls, uacOut)
		}
		echoed := netnstest.SippNumber(t, uasOut, `(\d+) Total echo RTP pckts 1st stream`)
		e.calls = waitEdgeCalls(t, e.serve.base, e.link, calls, echoed)
		phase(e.name + ": calls placed and captured")
	}
	// An edge reports a stream finally when it goes idle or at shutdown:
	// stopping the edges sends the last reports.
	for _, e := range edges {
		e.serve.signal(syscall.SIGTERM)
	}
	phase("edges stopped")

	eventually(t, func(p *problems) {
		var list api.CallListView
		getJSON(t, collBase+"/api/v1/calls?limit=100", &list)
		seen := map[string]int{}
		for _, c := range list.Calls {
			seen[c.CallID]++
		}
		if list.Total != len(edges)*calls || len(list.Calls) != list.Total {
			p.add("the collector lists %d calls (%d on the page), the edges captured %d", list.Total, len(list.Calls), len(edges)*calls)
		}
		for _, e := range edges {
			for id, want := range e.calls {
				if seen[id] != 1 {
					p.add("%s: call %s listed %d times at the collector", e.name, id, seen[id])
					continue
				}
				dirs := map[bool]bool{}
				for _, w := range want {
					dirs[w.Src == netip.AddrPortFrom(e.link.RootIP, 6000).String()] = true
				}
				if len(dirs) != 2 {
					p.add("%s: call %s has streams in %d directions at the edge, want both", e.name, id, len(dirs))
				}
				var d api.CallDetailView
				getJSON(t, collBase+"/api/v1/calls/"+url.PathEscape(id), &d)
				got := map[string]api.StreamView{}
				for _, v := range d.RTPStreams {
					got[edgeStreamKey(v)] = v
				}
				if len(d.RTPStreams) != len(want) || len(got) != len(want) {
					p.add("%s: call %s has %d streams at the collector, %d at the edge", e.name, id, len(d.RTPStreams), len(want))
				}
				for _, w := range want {
					g, ok := got[edgeStreamKey(w)]
					if !ok {
						p.add("%s: call %s: stream %s not at the collector", e.name, id, edgeStreamKey(w))
						continue
					}
					compareStreamViews(p, e.name, g, w)
				}
			}
		}
		// Both nodes' Distributed tables show every call once.
		for i, n := range nodes {
			if c := queryUint(t, n.Addr(), "SELECT count() FROM "+db+".calls FINAL"); int(c) != len(edges)*calls {
				p.add("node %d: %d calls, want %d", i+1, c, len(edges)*calls)
			}
		}
	})
	phase("collector checked")
	if t.Failed() {
		st := liveStatusOf(t, collBase)
		t.Logf("collector stages: rtp %v, decode %v", st.Stages["rtp"], st.Stages["decode"])
		for _, e := range edges {
			t.Logf("%s said:\n%s", e.name, e.serve.out.String())
		}
	}
	for _, e := range edges {
		for id, streams := range e.calls {
			for _, s := range streams {
				t.Logf("%s %s %s>%s: %d packets, %d lost, MOS %.3f", e.name, id, s.Src, s.Dst, s.Packets, s.Lost, s.MOS)
			}
		}
	}
}
