package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// TestAUserAddedBehindTheServersBackEndsOpenMode adds a user straight to
// the store (as sipscope user add on a shared ClickHouse server would)
// while the server runs open: once the user count is re-read, credentials
// are required.
func TestAUserAddedBehindTheServersBackEndsOpenMode(t *testing.T) {
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(Config{}, st, nil)
	get := func() int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/calls", nil)
		req.Host = "localhost"
		s.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("open server: %d", code)
	}
	if err := st.PutUser(context.Background(), storage.User{Name: "late", Role: RoleViewer, PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("within the recheck interval: %d, want the cached open answer 200", code)
	}
	s.auth.recheck = 0
	if code := get(); code != http.StatusUnauthorized {
		t.Fatalf("after the recheck: %d, want 401", code)
	}
}

// failingUsers is a store whose user list fails once told to, as a
// ClickHouse server that went down does.
type failingUsers struct {
	*embedded.Store
	down bool
}

func (f *failingUsers) ListUsers(ctx context.Context) ([]storage.User, error) {
	if f.down {
		return nil, storage.ErrClosed
	}
	return f.Store.ListUsers(ctx)
}

// A server known to run open (no users) stays open while its store is
// down: its status and whatever the store can still answer must not turn
// into 500s because the user count cannot be re-read.
func TestAnOpenServerStaysOpenWhileItsStoreIsDown(t *testing.T) {
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs := &failingUsers{Store: st}
	s := New(Config{Status: func() any { return "ok" }}, fs, nil)
	s.auth.recheck = 0
	get := func() int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/status", nil)
		req.Host = "localhost"
		s.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("open server: %d", code)
	}
	fs.down = true
	if code := get(); code != http.StatusOK {
		t.Fatalf("with the store down: %d, want 200", code)
	}
}
