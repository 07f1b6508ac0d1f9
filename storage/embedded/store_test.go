package embedded

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/storetest"
)

// signalChildEnv makes the test binary act as the child of
// TestGoPanicsStillWorkAfterOpen instead of running tests.
const signalChildEnv = "SIPSCOPE_EMBEDDED_SIGNAL_CHILD"

// missingLibChildEnv makes the test binary try Open without the library.
const missingLibChildEnv = "SIPSCOPE_EMBEDDED_NOLIB_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(signalChildEnv); dir != "" {
		os.Exit(signalChild(dir))
	}
	if dir := os.Getenv(missingLibChildEnv); dir != "" {
		s, err := Open(context.Background(), dir)
		if err == nil {
			s.Close()
			fmt.Println("open succeeded without the library")
			os.Exit(1)
		}
		fmt.Println("open failed as expected:", err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T) storetest.Store { return open(t, dir) })
}

func TestOnlyOneSessionIsOpenPerProcessButOpenAfterCloseWorks(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	first := open(t, a)
	if s, err := Open(context.Background(), b); !errors.Is(err, ErrSessionInUse) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("second Open while the first is open: %v, want ErrSessionInUse", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := first.ListCalls(context.Background(), storage.CallFilter{}); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("use after Close: %v, want storage.ErrClosed", err)
	}
	other := open(t, b)
	if !strings.HasPrefix(other.ServerVersion(), "26.") && !strings.HasPrefix(other.ServerVersion(), "2") {
		t.Errorf("engine version %q", other.ServerVersion())
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejectsAPathTheEngineCannotTake(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "a\x00b"))
	if !errors.Is(err, ErrDataDir) {
		t.Errorf("error %v, want ErrDataDir", err)
	}
}

func TestOpenLeavesTheCrashSignalHandlersAsTheyWere(t *testing.T) {
	before, err := saveSignalHandlers()
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, t.TempDir())
	after, err := saveSignalHandlers()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed, err := saveSignalHandlers()
	if err != nil {
		t.Fatal(err)
	}
	for i, sig := range crashSignals {
		if after[i] != before[i] {
			t.Errorf("%v after Open: %+v, before: %+v", sig, after[i], before[i])
		}
		if closed[i] != before[i] {
			t.Errorf("%v after Close: %+v, before: %+v", sig, closed[i], before[i])
		}
	}
}

// TestGoPanicsStillWorkAfterOpen runs the check in a child process: if the
// engine's handlers were still in place, a nil dereference would hang, and
// only a parent with a deadline can turn that into a failure.
func TestGoPanicsStillWorkAfterOpen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), signalChildEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("child hung (a panic after Open did not unwind):\n%s", out)
	}
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"open: nil dereference: runtime error: invalid memory address or nil pointer dereference",
		"open: division by zero: runtime error: integer divide by zero",
		"open: nil map write: assignment to entry in nil map",
		"closed: nil dereference: runtime error: invalid memory address or nil pointer dereference",
		"closed: division by zero: runtime error: integer divide by zero",
		"done",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

//go:noinline
func nilPointer() *correlate.Call { return nil }

//go:noinline
func zero() int { return 0 }

func recovered(f func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	f()
	return "no panic"
}

// signalChild opens a store, uses it, and then panics in the ways that go
// through the crash-signal handlers (SIGSEGV, SIGFPE) and one that does not.
func signalChild(dir string) int {
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	c := correlate.Call{CallID: "sig", State: correlate.StateAnswered, Start: time.Unix(1700000000, 0),
		SrcIP: netip.MustParseAddr("192.0.2.1")}
	if err := s.Write(ctx, storage.Batch{Calls: []correlate.Call{c}}); err != nil {
		fmt.Println("write:", err)
		return 1
	}
	if _, err := s.GetCall(ctx, "sig"); err != nil {
		fmt.Println("get:", err)
		return 1
	}
	panics := func(phase string) {
		fmt.Println(phase+": nil dereference:", recovered(func() { nilPointer().Messages = 1 }))
		fmt.Println(phase+": division by zero:", recovered(func() { _ = 1 / zero() }))
		fmt.Println(phase+": nil map write:", recovered(func() {
			var m map[string]int
			//lint:ignore SA5000 the test provokes this panic on purpose
			m["x"] = 1
		}))
	}
	panics("open")
	if err := s.Close(); err != nil {
		fmt.Println("close:", err)
		return 1
	}
	panics("closed")
	fmt.Println("done")
	return 0
}

func TestAStoredRowThatCannotBeDecodedIsReportedNotGuessed(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	err := engine{s}.exec(ctx, "INSERT INTO sipscope.calls (call_id, src_ip, version) VALUES ('bad', 'not-an-ip', 1)")
	if err == nil { // as sipscope writes it: with its index row
		err = engine{s}.exec(ctx, "INSERT INTO sipscope.call_index (call_id) VALUES ('bad')")
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCall(ctx, "bad"); !errors.Is(err, storage.ErrBadRow) {
		t.Errorf("GetCall: %v, want storage.ErrBadRow", err)
	}
	if _, err := s.ListCalls(ctx, storage.CallFilter{CallID: "bad"}); !errors.Is(err, storage.ErrBadRow) {
		t.Errorf("ListCalls: %v, want storage.ErrBadRow", err)
	}
}

func TestAContextThatIsDoneStopsBeforeTheEngineIsCalled(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ListCalls(ctx, storage.CallFilter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ListCalls: %v, want context.Canceled", err)
	}
	if err := s.Write(ctx, storage.Batch{Calls: []correlate.Call{{CallID: "x"}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write: %v, want context.Canceled", err)
	}
	if _, err := s.GetCall(context.Background(), "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the cancelled write went through: %v", err)
	}
}

func TestConcurrentUseIsSerialisedSafely(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	const workers, rounds = 4, 15
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range rounds {
				id := fmt.Sprintf("c-%d-%d", w, i)
				start := time.Date(2024, 1, 1, 0, 0, w*rounds+i, 0, time.UTC)
				if err := s.Write(ctx, storage.Batch{Calls: []correlate.Call{{CallID: id, Start: start}}}); err != nil {
					errs <- err
					return
				}
				if _, err := s.GetCall(ctx, id); err != nil {
					errs <- err
					return
				}
				if _, err := s.ListCalls(ctx, storage.CallFilter{Limit: 5}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	p, err := s.ListCalls(ctx, storage.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != workers*rounds {
		t.Errorf("total %d, want %d", p.Total, workers*rounds)
	}
}

func TestADataDirWithQuotesAndSpacesWorks(t *testing.T) {
	// The staged insert file lives under the data dir, so its path goes
	// through storage.QuoteString into INSERT ... FROM INFILE.
	dir := filepath.Join(t.TempDir(), `it's a "dir" \ with ? and %`)
	s := open(t, dir)
	defer s.Close()
	ctx := context.Background()
	c := correlate.Call{CallID: "q", Start: time.Unix(1700000000, 0)}
	if err := s.Write(ctx, storage.Batch{Calls: []correlate.Call{c}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCall(ctx, "q"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenWithoutTheLibraryFailsWithAnError(t *testing.T) {
	// In a child, so that this process's already loaded engine is not
	// involved: the library is opened on first use, not at import.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), missingLibChildEnv+"="+t.TempDir(), "CHDB_LIB_PATH=/nonexistent/libchdb.so")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "open failed as expected: embedded: chdb") ||
		!strings.Contains(string(out), "libchdb: cannot load") {
		t.Errorf("child output:\n%s", out)
	}
}

func TestKPIsOfAGeneratedCaptureEqualItsTruth(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.KPIs(t, s)
}

func TestUsersAndTokens(t *testing.T) {
	dir := t.TempDir()
	storetest.RunAuth(t, func(t *testing.T) storetest.AuthStore { return open(t, dir) })
}

func TestRegistrationAndStreamLists(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	storetest.RunListing(t, st)
}

func TestAlertsAndTheirEvidence(t *testing.T) {
	dir := t.TempDir()
	storetest.RunAlerts(t, func(t *testing.T) storetest.AlertStore { return open(t, dir) })
}

func TestCapturedFramesRoundTrip(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	storetest.RunPackets(t, st)
}
