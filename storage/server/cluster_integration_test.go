//go:build integration

package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/server/servertest"
	"github.com/sipscope/sipscope/storage/storetest"
)

const testCluster = "sipscope_test"

// TestTwoNodeCluster starts ZooKeeper and two ClickHouse 18.16 servers
// forming one cluster of two shards. sipscope creates its schema ON
// CLUSTER (ReplicatedMergeTree _local tables behind Distributed ones),
// writes some calls through each node, and then each node's Distributed
// tables show every call exactly once with its messages, while the rows
// are spread over both shards.
func TestTwoNodeCluster(t *testing.T) {
	zk := servertest.StartZooKeeper(t)
	ports := []int{servertest.FreePort(t), servertest.FreePort(t)}
	var nodes []*servertest.Server
	// The servers merge no parts of their own (no merge may exceed one
	// byte; OPTIMIZE FINAL ignores that bound), so that what the merge
	// rounds below merge is theirs.
	const noMerges = "<merge_tree><max_bytes_to_merge_at_max_space_in_pool>1</max_bytes_to_merge_at_max_space_in_pool>" +
		"<max_bytes_to_merge_at_min_space_in_pool>1</max_bytes_to_merge_at_min_space_in_pool></merge_tree>\n"
	for i, p := range ports {
		nodes = append(nodes, servertest.Start(t, servertest.Options{Port: p, ExtraConfig: servertest.ClusterConfig(t, testCluster, zk, ports, i) + noMerges}))
	}
	ctx := context.Background()
	var stores []*Store
	for _, n := range nodes {
		st, err := Open(ctx, Config{Addr: n.Addr(), Database: "clu", Cluster: testCluster})
		if err != nil {
			t.Fatalf("open %s: %v\nserver output:\n%s", n.Addr(), err, n.Output())
		}
		defer st.Close()
		stores = append(stores, st)
	}
	// Node 1 takes ten synthetic calls, node 2 an imported capture.
	if err := stores[0].Write(ctx, storetest.RetentionBatch()); err != nil {
		t.Fatal(err)
	}
	const capture = "../../testdata/calls.pcap"
	imported, err := pipeline.ImportFile(ctx, stores[1], capture)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pipeline.AnalyzeFile(capture, pipeline.QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	wantMsgs := map[string]int{}
	for _, c := range want.Calls {
		wantMsgs[c.CallID] = c.Messages
	}
	for d := 1; d <= 10; d++ {
		wantMsgs[fmt.Sprintf("call-%02d@example.com", d)] = 3
	}
	total := imported + 10
	if len(wantMsgs) != total {
		t.Fatalf("%d distinct calls expected, %d written", len(wantMsgs), total)
	}
	for i, st := range stores {
		// Distributed inserts are forwarded to the shards asynchronously.
		var page storage.CallPage
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			page, err = st.ListCalls(ctx, storage.CallFilter{Limit: 1000})
			if err != nil {
				t.Fatalf("node %d: list: %v", i+1, err)
			}
			if page.Total >= total || time.Now().After(deadline) {
				break
			}
		}
		if page.Total != total || len(page.Calls) != total {
			t.Fatalf("node %d lists %d calls (%d on the page), want %d", i+1, page.Total, len(page.Calls), total)
		}
		seen := map[string]int{}
		for _, c := range page.Calls {
			seen[c.CallID]++
		}
		for id, n := range wantMsgs {
			if seen[id] != 1 {
				t.Errorf("node %d lists call %s %d times", i+1, id, seen[id])
				continue
			}
			var d storage.CallDetail
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				if d, err = st.GetCall(ctx, id); err != nil {
					t.Fatalf("node %d: call %s: %v", i+1, id, err)
				}
				if len(d.Messages) >= n || time.Now().After(deadline) {
					break
				}
			}
			if len(d.Messages) != n {
				t.Errorf("node %d: call %s has %d messages, want %d", i+1, id, len(d.Messages), n)
			}
		}
	}
	// Both shards hold part of the calls: the cluster spreads, not copies.
	sum := 0
	for i, st := range stores {
		var n uint64
		if err := (querier{st}).Query(ctx, "SELECT count() FROM clu.calls_local FINAL", []any{&n}, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("shard %d holds no call", i+1)
		}
		sum += int(n)
	}
	if sum != total {
		t.Errorf("the shards hold %d calls together, want %d", sum, total)
	}

	// Retention through one node drops the partitions on both shards.
	if _, err := stores[0].EnforceRetention(ctx, storage.RetentionPolicy{Messages: 3 * 24 * time.Hour}, storetest.RetentionDay(11)); err != nil {
		t.Fatal(err)
	}
	for i, st := range stores {
		d, err := st.GetCall(ctx, "call-05@example.com")
		if err != nil || len(d.Messages) != 0 {
			t.Errorf("node %d after retention: call of May 5 %v with %d messages, want the call without messages", i+1, err, len(d.Messages))
		}
	}

	// Merge rounds through one node merge each finished day on the shard
	// that holds it: the calls of May 1 to 3 written twice more are in
	// three parts there, more than the cluster's two servers, and end in
	// one.
	localParts := func(st *Store) map[string]int {
		out := map[string]int{}
		var part string
		var n uint64
		err := (querier{st}).Query(ctx, "SELECT partition, count() FROM system.parts WHERE active AND database = 'clu'"+
			" AND table = 'calls_local' AND partition LIKE '202405%' GROUP BY partition", []any{&part, &n},
			func() error { out[part] = int(n); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	again := storage.Batch{Calls: storetest.RetentionBatch().Calls[:3]}
	for range 2 {
		if err := stores[1].Write(ctx, again); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		parts := 0
		for _, st := range stores {
			for _, n := range localParts(st) {
				parts += n
			}
		}
		if parts >= 3*3+7 || time.Now().After(deadline) {
			if parts < 3*3+7 {
				t.Fatalf("the shards hold %d parts of May's calls, want 16 (three days written thrice, seven once)", parts)
			}
			break
		}
	}
	// May 1 to 3 of calls_local and calls_by_id_local: six partitions,
	// three a round (call_index_local got the same block thrice, which a
	// replicated table keeps once). A replicated table's OPTIMIZE
	// queues its merge, so a round may choose a partition again that is
	// still merging; the rounds end when one finds nothing to merge.
	merged, rounds := 0, 0
	for ; rounds < 20; rounds++ {
		res, err := stores[0].EnforceRetention(ctx, storage.RetentionPolicy{}, storetest.RetentionDay(11))
		if err != nil {
			t.Fatal(err)
		}
		merged += len(res.Compacted)
		if len(res.Compacted) == 0 {
			break
		}
	}
	if merged < 6 || rounds == 20 {
		t.Errorf("%d rounds merged %d partitions, want 6 or more, then a round without", rounds, merged)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var several []string
		for i, st := range stores {
			for part, n := range localParts(st) {
				if n != 1 {
					several = append(several, fmt.Sprintf("node %d: %s in %d parts", i+1, part, n))
				}
			}
		}
		if len(several) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rounds, calls of finished days in several parts: %q", several)
		}
	}
	page, err := stores[1].ListCalls(ctx, storage.CallFilter{CallID: "call-03@example.com"})
	if err != nil || page.Total != 1 {
		t.Errorf("call of May 3 after the merges: %+v, %v", page, err)
	}
}
