package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/storage"
)

// AuthStore is what RunAuth exercises: the user and token methods both
// backends have.
type AuthStore interface {
	PutUser(ctx context.Context, u storage.User) error
	DeleteUser(ctx context.Context, name string) error
	GetUser(ctx context.Context, name string) (storage.User, error)
	ListUsers(ctx context.Context) ([]storage.User, error)
	PutToken(ctx context.Context, t storage.Token) error
	DeleteToken(ctx context.Context, id string) error
	GetToken(ctx context.Context, id string) (storage.Token, error)
	ListTokens(ctx context.Context) ([]storage.Token, error)
	Close() error
}

// RunAuth runs the user and token suite. As for Run, open must return a
// store over the same, initially empty, data every time.
func RunAuth(t *testing.T, open func(t *testing.T) AuthStore) {
	ctx := context.Background()
	st := open(t)
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	users := func() string {
		t.Helper()
		us, err := st.ListUsers(ctx)
		must(err)
		var b []string
		for _, u := range us {
			b = append(b, u.Name+":"+u.Role)
		}
		return strings.Join(b, " ")
	}
	tokens := func() string {
		t.Helper()
		ts, err := st.ListTokens(ctx)
		must(err)
		var b []string
		for _, tk := range ts {
			b = append(b, tk.ID+":"+tk.User)
		}
		return strings.Join(b, " ")
	}

	t.Run("an empty store has no users and no tokens", func(t *testing.T) {
		if got := users(); got != "" {
			t.Fatalf("users %q", got)
		}
		if got := tokens(); got != "" {
			t.Fatalf("tokens %q", got)
		}
		if _, err := st.GetUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetUser of nobody: %v, want ErrNotFound", err)
		}
	})
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	t.Run("users are created, changed and deleted, and a deleted name can return", func(t *testing.T) {
		hostile := "o'brien\\\x00\n"
		must(st.PutUser(ctx, storage.User{Name: "bob", Role: "viewer", PasswordHash: "$2a$10$first", Created: created}))
		must(st.PutUser(ctx, storage.User{Name: "alice", Role: "admin", PasswordHash: "$2a$10$alice"}))
		must(st.PutUser(ctx, storage.User{Name: hostile, Role: "operator", PasswordHash: "h'"}))
		if got, want := users(), "alice:admin bob:viewer "+hostile+":operator"; got != want {
			t.Fatalf("users %q, want %q", got, want)
		}
		must(st.PutUser(ctx, storage.User{Name: "bob", Role: "operator", PasswordHash: "$2a$10$second", Created: created}))
		u, err := st.GetUser(ctx, "bob")
		must(err)
		if u.Role != "operator" || u.PasswordHash != "$2a$10$second" || !u.Created.Equal(created) || u.Updated.Before(created) {
			t.Fatalf("bob after change: %+v", u)
		}
		must(st.DeleteUser(ctx, hostile))
		must(st.DeleteUser(ctx, "bob"))
		if _, err := st.GetUser(ctx, "bob"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetUser of deleted bob: %v, want ErrNotFound", err)
		}
		if err := st.DeleteUser(ctx, "bob"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("deleting bob twice: %v, want ErrNotFound", err)
		}
		if got := users(); got != "alice:admin" {
			t.Fatalf("users after deletions %q", got)
		}
		must(st.PutUser(ctx, storage.User{Name: "bob", Role: "viewer", PasswordHash: "$2a$10$third"}))
		if got := users(); got != "alice:admin bob:viewer" {
			t.Fatalf("users after bob returned %q", got)
		}
	})
	t.Run("tokens are stored, found by id and revoked", func(t *testing.T) {
		must(st.PutToken(ctx, storage.Token{ID: "t1", Hash: strings.Repeat("a", 64), User: "alice", Name: "grafana", Created: created}))
		must(st.PutToken(ctx, storage.Token{ID: "t2", Hash: strings.Repeat("b", 64), User: "bob", Name: "script"}))
		if got := tokens(); got != "t1:alice t2:bob" {
			t.Fatalf("tokens %q", got)
		}
		tk, err := st.GetToken(ctx, "t1")
		must(err)
		if tk.Hash != strings.Repeat("a", 64) || tk.Name != "grafana" || !tk.Created.Equal(created) {
			t.Fatalf("t1: %+v", tk)
		}
		must(st.DeleteToken(ctx, "t1"))
		if _, err := st.GetToken(ctx, "t1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetToken of revoked t1: %v, want ErrNotFound", err)
		}
		if err := st.DeleteToken(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("revoking an unknown token: %v, want ErrNotFound", err)
		}
	})
	t.Run("records without a key are refused", func(t *testing.T) {
		if err := st.PutUser(ctx, storage.User{Role: "viewer"}); !errors.Is(err, storage.ErrInvalidRecord) {
			t.Errorf("user without name: %v", err)
		}
		if err := st.PutToken(ctx, storage.Token{ID: "x", User: "alice"}); !errors.Is(err, storage.ErrInvalidRecord) {
			t.Errorf("token without hash: %v", err)
		}
		if _, err := st.GetUser(ctx, strings.Repeat("x", 300)); !errors.Is(err, storage.ErrInvalidRecord) {
			t.Errorf("oversized name: %v", err)
		}
	})
	t.Run("users and revocations survive a restart", func(t *testing.T) {
		must(st.Close())
		st = nil
		st = open(t)
		if got := users(); got != "alice:admin bob:viewer" {
			t.Fatalf("users after restart %q", got)
		}
		if got := tokens(); got != "t2:bob" {
			t.Fatalf("tokens after restart %q", got)
		}
	})
}
