package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/storage/spool"
)

// replayChildEnv makes the test binary the child of
// TestKillNineDuringReplayLosesNothing: it replays the spool in the
// directories named (store, spool), printing each batch the store took.
const replayChildEnv = "SIPSCOPE_PIPELINE_REPLAY_CHILD"

func TestMain(m *testing.M) {
	if dirs := os.Getenv(replayChildEnv); dirs != "" {
		os.Exit(replayChild(dirs))
	}
	os.Exit(m.Run())
}

// announcingStore prints "stored" once the store took a batch, slowly, so
// that the parent can kill the process between batches or inside one.
type announcingStore struct{ StoreWriter }

func (a announcingStore) Write(ctx context.Context, b storage.Batch) error {
	time.Sleep(10 * time.Millisecond)
	if err := a.StoreWriter.Write(ctx, b); err != nil {
		return err
	}
	fmt.Println("stored")
	return nil
}

func replayChild(dirs string) int {
	var storeDir, spoolDir string
	if _, err := fmt.Sscanf(dirs, "%s %s", &storeDir, &spoolDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	store, err := embedded.Open(ctx, storeDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	sp, err := spool.Open(spool.Config{Dir: spoolDir, MaxBytes: 64 << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("replaying")
	// No sources: Run ends at once, and its store writer replays the spool.
	r := NewLiveRunner(LiveOptions{StoreSpool: sp}, announcingStore{store}, slog.New(slog.DiscardHandler), nil)
	if err := r.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKillNineDuringReplayLosesNothing spools a capture's records as many
// small batches, lets a child process replay them into the embedded store
// and SIGKILLs it part-way; a second replay (this process) finishes the
// job: every call and SIP message is stored, and read back once.
func TestKillNineDuringReplayLosesNothing(t *testing.T) {
	const path = "../testdata/calls.pcap"
	storeDir, spoolDir := t.TempDir(), t.TempDir()
	var batches []storage.Batch
	rec := recordingStore{batches: &batches}
	if _, err := ImportFile(t.Context(), rec, path); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(spool.Config{Dir: spoolDir, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range batches {
		// One message a batch, then the calls, registrations and streams.
		for _, m := range b.Messages {
			one := storage.Batch{Messages: []correlate.Message{m}}
			if err := sp.AppendBatch(one); err != nil {
				t.Fatal(err)
			}
			n++
		}
		rest := b
		rest.Messages = nil
		if err := sp.AppendBatch(rest); err != nil {
			t.Fatal(err)
		}
		n++
	}
	sp.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), replayChildEnv+"="+storeDir+" "+spoolDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	stored := 0
	for sc.Scan() {
		if sc.Text() == "stored" {
			if stored++; stored == n/2 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
	}
	for sc.Scan() {
	}
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the child was not killed (stored %d of %d batches): %v", stored, n, cmd.ProcessState)
	}

	sp, err = spool.Open(spool.Config{Dir: spoolDir, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	left := sp.Len()
	// The kill came after the parent read the stored-th "stored": the
	// child may have acknowledged that batch or not yet, and may have
	// stored and acknowledged one more that the parent did not read.
	if left < n-stored-1 || left > n-stored+1 {
		t.Fatalf("after the kill %d batches wait, %d of %d were stored", left, stored, n)
	}
	store, err := embedded.Open(t.Context(), storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	gate := &failingStore{StoreWriter: store, messages: map[string]int{}}
	r := NewLiveRunner(LiveOptions{StoreSpool: sp}, gate, slog.New(slog.DiscardHandler), nil)
	if err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sp.Len() != 0 {
		t.Fatalf("%d batches still spooled", sp.Len())
	}
	// The store reads every call whole and every message once (a batch
	// written twice collapses on its keys).
	want, err := AnalyzeFile(path, QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range want.Calls {
		d, err := store.GetCall(t.Context(), c.CallID)
		if err != nil {
			t.Fatalf("call %s: %v", c.CallID, err)
		}
		if len(d.Messages) != c.Messages || d.Call.State != c.State {
			t.Errorf("call %s: %s with %d messages, want %s with %d", c.CallID, d.Call.State, len(d.Messages), c.State, c.Messages)
		}
	}
	t.Logf("%d batches: %d stored before the kill, %d replayed after", n, stored, left)
}

// recordingStore keeps the batches written to it.
type recordingStore struct{ batches *[]storage.Batch }

func (r recordingStore) Write(_ context.Context, b storage.Batch) error {
	*r.batches = append(*r.batches, b)
	return nil
}
