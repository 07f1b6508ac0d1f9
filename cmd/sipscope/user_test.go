package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// userCmd runs one command line ("user", "add", ...) on dir with stdin and
// returns its output; main hands cmdUser the arguments after "user".
func userCmd(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runUser(context.Background(), append(args[1:], "--data", dir), strings.NewReader(stdin), &out, slog.New(slog.DiscardHandler))
	return out.String(), err
}

func tokenCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := cmdToken(context.Background(), append(args[1:], "--data", dir), &out, slog.New(slog.DiscardHandler))
	return out.String(), err
}

// mustFor returns a check that fails t when a command failed.
func mustFor(t *testing.T) func(out string, err error) string {
	return func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\noutput: %s", err, out)
		}
		return out
	}
}

// withStore opens the store the commands wrote, runs fn and closes it:
// chDB allows one session per process, and the commands open their own.
func withStore(t *testing.T, dir string, fn func(st *embedded.Store)) {
	t.Helper()
	st, err := embedded.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

func TestUserCommandsManageUsersInTheStore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	must := mustFor(t)

	must(userCmd(t, dir, "s3cret password\n", "user", "add", "alice", "--role", "admin", "--password-stdin"))
	out := must(userCmd(t, dir, "", "user", "add", "bob", "--role", "viewer"))
	m := regexp.MustCompile(`password: (\S{20})\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no generated password printed:\n%s", out)
	}
	bobPassword := m[1]

	withStore(t, dir, func(st *embedded.Store) {
		a, err := st.GetUser(ctx, "alice")
		if err != nil || a.Role != "admin" || bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte("s3cret password")) != nil {
			t.Fatalf("alice: %+v %v", a, err)
		}
		b, err := st.GetUser(ctx, "bob")
		if err != nil || b.Role != "viewer" || bcrypt.CompareHashAndPassword([]byte(b.PasswordHash), []byte(bobPassword)) != nil {
			t.Fatalf("bob: %+v %v", b, err)
		}
	})

	list := must(userCmd(t, dir, "", "user", "list"))
	if !regexp.MustCompile(`(?m)^alice\s+admin\s`).MatchString(list) || !regexp.MustCompile(`(?m)^bob\s+viewer\s`).MatchString(list) {
		t.Fatalf("list:\n%s", list)
	}

	must(userCmd(t, dir, "another passphrase\r\n", "user", "passwd", "bob", "--password-stdin"))
	withStore(t, dir, func(st *embedded.Store) {
		b, _ := st.GetUser(ctx, "bob")
		if bcrypt.CompareHashAndPassword([]byte(b.PasswordHash), []byte("another passphrase")) != nil {
			t.Fatal("passwd did not set the password read from stdin (CRLF trimmed)")
		}
	})

	must(userCmd(t, dir, "", "user", "del", "bob"))
	if list := must(userCmd(t, dir, "", "user", "list")); strings.Contains(list, "bob") {
		t.Fatalf("bob still listed:\n%s", list)
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
	}{
		{"an unknown role is refused", "", []string{"user", "add", "carol", "--role", "root"}},
		{"a short password is refused", "short\n", []string{"user", "add", "carol", "--role", "viewer", "--password-stdin"}},
		{"an empty stdin is refused", "", []string{"user", "add", "carol", "--role", "viewer", "--password-stdin"}},
		{"a name with spaces is refused", "", []string{"user", "add", "ca rol", "--role", "viewer"}},
		{"an existing user is not added again", "", []string{"user", "add", "alice", "--role", "viewer"}},
		{"deleting an unknown user fails", "", []string{"user", "del", "nobody"}},
		{"passwd of an unknown user fails", "", []string{"user", "passwd", "nobody"}},
		{"an unknown subcommand fails", "", []string{"user", "rename", "alice"}},
		{"a missing name fails", "", []string{"user", "del"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := userCmd(t, dir, tc.stdin, tc.args...); err == nil {
				t.Fatalf("no error; output %s", out)
			}
		})
	}
	withStore(t, dir, func(st *embedded.Store) {
		if _, err := st.GetUser(ctx, "carol"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a refused add stored carol: %v", err)
		}
	})
}

// TestTokenCommandsMakeTokensTheAPIAccepts creates a token on the command
// line and uses it against the API on the same store, then revokes it.
func TestTokenCommandsMakeTokensTheAPIAccepts(t *testing.T) {
	dir := t.TempDir()
	must := mustFor(t)
	must(userCmd(t, dir, "", "user", "add", "ops", "--role", "operator"))
	out := must(tokenCmd(t, dir, "token", "add", "nightly-export", "--user", "ops"))
	m := regexp.MustCompile(`id: ([0-9a-f]{16})\n.*\ntoken: (ssk_\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("token add output:\n%s", out)
	}
	id, secret := m[1], m[2]
	list := must(tokenCmd(t, dir, "token", "list"))
	if !regexp.MustCompile(`(?m)^`+id+`\s+ops\s+nightly-export\s`).MatchString(list) || strings.Contains(list, secret[21:]) {
		t.Fatalf("token list:\n%s", list)
	}
	if out, err := tokenCmd(t, dir, "token", "add", "x", "--user", "ghost"); err == nil {
		t.Fatalf("token for an unknown user: %s", out)
	}

	status := func() int {
		t.Helper()
		var code int
		withStore(t, dir, func(st *embedded.Store) {
			srv := httptest.NewServer(api.New(api.Config{}, st, nil).Handler())
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/calls", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			code = resp.StatusCode
		})
		return code
	}
	if got := status(); got != 200 {
		t.Fatalf("API with the new token: %d, want 200", got)
	}
	must(tokenCmd(t, dir, "token", "del", id))
	if got := status(); got != 401 {
		t.Fatalf("API with the revoked token: %d, want 401", got)
	}
	if out, err := tokenCmd(t, dir, "token", "del", id); err == nil {
		t.Fatalf("revoking twice: %s", out)
	}
}

// serve itself enforces the users the CLI made: no request without
// credentials, and the store's user, token, registration and stream
// methods reach the API through serve's store wrapper.
func TestServeEnforcesTheUsersOfItsStore(t *testing.T) {
	dir := t.TempDir()
	must := mustFor(t)
	must(userCmd(t, dir, "", "user", "add", "ops", "--role", "operator"))
	out := must(tokenCmd(t, dir, "token", "add", "script", "--user", "ops"))
	m := regexp.MustCompile(`token: (ssk_\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("token add output:\n%s", out)
	}
	base, stop := startServe(t, "--data", dir)
	defer stop()
	get := func(path, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/api/v1/calls", "/api/v1/registrations", "/api/v1/streams", "/api/v1/alerts"} {
		if got := get(path, ""); got != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, got)
		}
		if got := get(path, m[1]); got != http.StatusOK {
			t.Errorf("GET %s with the operator's token: %d, want 200", path, got)
		}
	}
}
