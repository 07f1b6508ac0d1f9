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
