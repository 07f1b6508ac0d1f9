package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// Passwords of the seeded users, one per role, named after the role.
const testPassword = "correct horse battery"

var roles = []string{api.RoleViewer, api.RoleOperator, api.RoleAdmin}

// authFixture is a real embedded store with the call fixtures, one user per
// role (named after the role) and one API token per user.
type authFixture struct {
	store  *embedded.Store
	tokens map[string]string // role → bearer secret
}

func seedUsers(t *testing.T, st *embedded.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	hash, err := api.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, r := range roles {
		if err := st.PutUser(ctx, storage.User{Name: r, Role: r, PasswordHash: hash}); err != nil {
			t.Fatalf("PutUser %s: %v", r, err)
		}
		secret, rec, err := api.NewToken(r, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutToken(ctx, rec); err != nil {
			t.Fatalf("PutToken: %v", err)
		}
		tokens[r] = secret
	}
	return tokens
}

func newAuthFixture(t *testing.T) authFixture {
	st := openStore(t, fixtures())
	return authFixture{store: st, tokens: seedUsers(t, st)}
}

// client sends requests to one server with optional credentials.
type client struct {
	t      *testing.T
	srv    *httptest.Server
	hc     *http.Client
	bearer string
	csrf   string
	host   string
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	hc := *srv.Client()
	jar := newJar(t)
	hc.Jar = jar
	return &client{t: t, srv: srv, hc: &hc}
}

func newJar(t *testing.T) http.CookieJar {
	jar, err := cookiejarNew()
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

// do sends method path with body (JSON when not nil) and returns the
// response with its body read.
func (c *client) do(method, path string, body any) (*http.Response, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.csrf != "" {
		req.Header.Set(api.CSRFHeader, c.csrf)
	}
	if c.host != "" {
		req.Host = c.host
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

func (c *client) expect(method, path string, body any, want int) []byte {
	c.t.Helper()
	resp, b := c.do(method, path, body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, b)
	}
	return b
}

func (c *client) login(user, password string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(http.MethodPost, "/api/v1/login", map[string]string{"user": user, "password": password})
}

// roleCase is one request and the role it needs; ok is its status for a
// caller with that role.
type roleCase struct {
	method, path string
	body         any
	role         string // "" for open
	ok           int
}

// TestEveryRouteEnforcesItsRole calls every route without credentials and
// with the token of each role, and checks the answers against the role
// the OpenAPI document names for the route: 401 without a token, 403 below
// the role, the route's own answer from the role up.
func TestEveryRouteEnforcesItsRole(t *testing.T) {
	f := newAuthFixture(t)
	srv := httptest.NewServer(api.New(api.Config{Metrics: http.NotFoundHandler()}, f.store, testLogger(t)).Handler())
	t.Cleanup(srv.Close)
	id := url.PathEscape(answeredID)

	n := 0
	newUser := func() any {
		n++
		return map[string]string{"name": "new" + strings.Repeat("x", n), "role": "viewer", "password": testPassword}
	}
	cases := []roleCase{
		{"GET", "/healthz", nil, "", 200},
		{"GET", "/api/v1/healthz", nil, "", 200},
		{"GET", "/api/v1/openapi.json", nil, "", 200},
		{"GET", "/metrics", nil, "", 404}, // the injected handler's own answer
		{"POST", "/api/v1/login", map[string]string{"user": "viewer", "password": "wrong password"}, "", 401},
		{"GET", "/api/v1/me", nil, api.RoleViewer, 200},
		{"GET", "/api/v1/calls", nil, api.RoleViewer, 200},
		{"GET", "/api/v1/calls/" + id, nil, api.RoleViewer, 200},
		{"GET", "/api/v1/status", nil, api.RoleViewer, 200},
		{"GET", "/api/v1/registrations", nil, api.RoleViewer, 200},
		{"GET", "/api/v1/registrations/nope", nil, api.RoleViewer, 404},
		{"GET", "/api/v1/streams", nil, api.RoleViewer, 200},
		{"GET", "/api/v1/alerts", nil, api.RoleViewer, 200},
		{"GET", "/api/v1/kpis", nil, api.RoleViewer, 200},
		{"GET", "/api/v1/events", nil, api.RoleViewer, 501}, // no hub in this server
		{"GET", "/api/v1/alerts/nope", nil, api.RoleViewer, 404},
		{"GET", "/api/v1/alerts/nope/pcap", nil, api.RoleOperator, 404},
		{"GET", "/api/v1/calls/" + id + "/pcap", nil, api.RoleOperator, 200},
		{"GET", "/api/v1/calls/" + id + "/audio", nil, api.RoleOperator, 409}, // streams, but no RTP packets stored
		{"GET", "/api/v1/calls/" + id + "/text", nil, api.RoleViewer, 200},
		{"GET", "/api/v1/calls.pcap", nil, api.RoleOperator, 200},
		{"GET", "/api/v1/users", nil, api.RoleAdmin, 200},
		{"POST", "/api/v1/users", newUser, api.RoleAdmin, 201},
		{"PUT", "/api/v1/users/viewer", map[string]string{"role": "viewer"}, api.RoleAdmin, 200},
		{"DELETE", "/api/v1/users/nobody", nil, api.RoleAdmin, 404},
		{"GET", "/api/v1/tokens", nil, api.RoleAdmin, 200},
		{"POST", "/api/v1/tokens", map[string]string{"user": "viewer", "name": "t"}, api.RoleAdmin, 201},
		{"DELETE", "/api/v1/tokens/0123456789abcdef", nil, api.RoleAdmin, 404},
		{"POST", "/api/v1/logout", nil, api.RoleViewer, 204},
	}
	doc := openAPIRoles(t, newClient(t, srv))
	covered := map[string]bool{}
	rank := map[string]int{"": 0, api.RoleViewer: 1, api.RoleOperator: 2, api.RoleAdmin: 3}
	for _, tc := range cases {
		key := tc.method + " " + docPath(tc.path, id)
		covered[key] = true
		if want, ok := doc[key]; !ok {
			t.Errorf("%s is not in the OpenAPI document", key)
		} else if docRole := strings.ReplaceAll(want, "open", ""); docRole != tc.role {
			t.Errorf("%s: the document says %q, the test expects %q", key, want, tc.role)
		}
		callers := append([]string{""}, roles...)
		for _, caller := range callers {
			name := tc.method + " " + tc.path + " as " + caller
			if caller == "" {
				name = tc.method + " " + tc.path + " without credentials"
			}
			t.Run(name, func(t *testing.T) {
				c := newClient(t, srv)
				c.bearer = f.tokens[caller]
				body := tc.body
				if fn, ok := body.(func() any); ok {
					body = fn()
				}
				want := tc.ok
				switch {
				case tc.role != "" && caller == "":
					want = http.StatusUnauthorized
				case rank[caller] < rank[tc.role]:
					want = http.StatusForbidden
				}
				resp, b := c.do(tc.method, tc.path, body)
				if resp.StatusCode != want {
					t.Fatalf("status %d, want %d; body %s", resp.StatusCode, want, b)
				}
				if want == http.StatusUnauthorized && tc.role != "" && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
			})
		}
	}
	for key := range doc {
		if !covered[key] {
			t.Errorf("route %s is documented but not checked here", key)
		}
	}
}

// docPath maps a concrete test path back to its documented template.
func docPath(p, id string) string {
	switch {
	case strings.HasPrefix(p, "/api/v1/calls/") && strings.HasSuffix(p, "/pcap"):
		return "/api/v1/calls/{id}/pcap"
	case strings.HasPrefix(p, "/api/v1/calls/") && strings.HasSuffix(p, "/text"):
		return "/api/v1/calls/{id}/text"
	case strings.HasPrefix(p, "/api/v1/calls/") && strings.HasSuffix(p, "/audio"):
		return "/api/v1/calls/{id}/audio"
	case strings.HasPrefix(p, "/api/v1/calls/"):
		return "/api/v1/calls/{id}"
	case strings.HasPrefix(p, "/api/v1/registrations/"):
		return "/api/v1/registrations/{id}"
	case strings.HasPrefix(p, "/api/v1/alerts/") && strings.HasSuffix(p, "/pcap"):
		return "/api/v1/alerts/{id}/pcap"
	case strings.HasPrefix(p, "/api/v1/alerts/"):
		return "/api/v1/alerts/{id}"
	case strings.HasPrefix(p, "/api/v1/users/"):
		return "/api/v1/users/{name}"
	case strings.HasPrefix(p, "/api/v1/tokens/"):
		return "/api/v1/tokens/{id}"
	}
	return p
}

// openAPIRoles reads "METHOD /path" → role from the served document.
func openAPIRoles(t *testing.T, c *client) map[string]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Role string `json:"x-sipscope-role"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(c.expect("GET", "/api/v1/openapi.json", nil, 200), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			out[strings.ToUpper(m)+" "+p] = op.Role
		}
	}
	return out
}

func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSessionLoginNeedsCSRFForChangesAndEndsAtLogout(t *testing.T) {
	f := newAuthFixture(t)
	srv := httptest.NewServer(api.New(api.Config{}, f.store, testLogger(t)).Handler())
	t.Cleanup(srv.Close)
	c := newClient(t, srv)

	if resp, b := c.login("admin", "wrong password"); resp.StatusCode != 401 || strings.Contains(string(b), "csrf") {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, b)
	}
	if resp, _ := c.login("ghost", testPassword); resp.StatusCode != 401 {
		t.Fatalf("unknown user: %d", resp.StatusCode)
	}
	resp, b := c.login("admin", testPassword)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	var lv struct {
		User, Role string
		CSRF       string `json:"csrf_token"`
	}
	if err := json.Unmarshal(b, &lv); err != nil || lv.Role != "admin" || len(lv.CSRF) < 40 {
		t.Fatalf("login answer %s (%v)", b, err)
	}
	sc, cc := cookieOf(resp, api.SessionCookie), cookieOf(resp, api.CSRFCookie)
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", sc)
	}
	if cc == nil || cc.HttpOnly || cc.Value != lv.CSRF || cc.SameSite != http.SameSiteStrictMode {
		t.Fatalf("CSRF cookie %+v: want readable by the page and equal to csrf_token", cc)
	}

	var me struct{ User, Role, Auth string }
	if err := json.Unmarshal(c.expect("GET", "/api/v1/me", nil, 200), &me); err != nil || me != (struct{ User, Role, Auth string }{"admin", "admin", "session"}) {
		t.Fatalf("me: %+v %v", me, err)
	}
	c.expect("GET", "/api/v1/calls", nil, 200) // reads need no CSRF header

	tok := map[string]string{"user": "viewer", "name": "by-session"}
	if b := c.expect("POST", "/api/v1/tokens", tok, 403); !strings.Contains(string(b), api.CSRFHeader) {
		t.Errorf("403 without CSRF header does not say why: %s", b)
	}
	c.csrf = "not-the-token"
	c.expect("POST", "/api/v1/tokens", tok, 403)
	c.expect("POST", "/api/v1/logout", nil, 403)
	c.csrf = lv.CSRF
	c.expect("POST", "/api/v1/tokens", tok, 201)

	// A token request carries no ambient credentials: no CSRF header needed.
	tc := newClient(t, srv)
	tc.bearer = f.tokens["admin"]
	tc.expect("POST", "/api/v1/tokens", tok, 201)

	c.expect("POST", "/api/v1/logout", nil, 204)
	c.csrf = ""
	c.expect("GET", "/api/v1/me", nil, 401)
	// The old cookie is dead on the server, not only in this jar.
	replay := newClient(t, srv)
	replay.hc.Jar = nil
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
	req.AddCookie(sc)
	r2, err := replay.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 401 {
		t.Fatalf("replayed session cookie after logout: %d, want 401", r2.StatusCode)
	}
}

func TestRevokedTokensAndDeletedUsersStopWorking(t *testing.T) {
	f := newAuthFixture(t)
	srv := httptest.NewServer(api.New(api.Config{}, f.store, testLogger(t)).Handler())
	t.Cleanup(srv.Close)
	admin := newClient(t, srv)
	admin.bearer = f.tokens["admin"]

	var nt struct{ ID, Token, User string }
	if err := json.Unmarshal(admin.expect("POST", "/api/v1/tokens", map[string]string{"user": "operator", "name": "script"}, 201), &nt); err != nil {
		t.Fatal(err)
	}
	script := newClient(t, srv)
	script.bearer = nt.Token
	script.expect("GET", "/api/v1/calls/"+url.PathEscape(answeredID)+"/pcap", nil, 200)
	// The listing never shows a secret or its hash.
	if b := admin.expect("GET", "/api/v1/tokens", nil, 200); strings.Contains(string(b), nt.Token[20:]) || strings.Contains(string(b), "hash") {
		t.Fatalf("token list leaks the secret: %s", b)
	}
	admin.expect("DELETE", "/api/v1/tokens/"+nt.ID, nil, 204)
	script.expect("GET", "/api/v1/calls", nil, 401)
	admin.expect("DELETE", "/api/v1/tokens/"+nt.ID, nil, 404)

	// A token whose secret is altered but whose ID is real is refused.
	forged := newClient(t, srv)
	forged.bearer = f.tokens["viewer"][:len(f.tokens["viewer"])-4] + "AAAA"
	forged.expect("GET", "/api/v1/calls", nil, 401)

	// Deleting a user ends its tokens and sessions; a role change applies at once.
	viewer := newClient(t, srv)
	viewer.bearer = f.tokens["viewer"]
	viewer.expect("GET", "/api/v1/calls/"+url.PathEscape(answeredID)+"/pcap", nil, 403)
	admin.expect("PUT", "/api/v1/users/viewer", map[string]string{"role": "operator"}, 200)
	viewer.expect("GET", "/api/v1/calls/"+url.PathEscape(answeredID)+"/pcap", nil, 200)
	session := newClient(t, srv)
	if resp, b := session.login("viewer", testPassword); resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	admin.expect("DELETE", "/api/v1/users/viewer", nil, 204)
	viewer.expect("GET", "/api/v1/calls", nil, 401)
	session.expect("GET", "/api/v1/me", nil, 401)

	// The last admin can be neither deleted nor demoted.
	admin.expect("DELETE", "/api/v1/users/admin", nil, 409)
	admin.expect("PUT", "/api/v1/users/admin", map[string]string{"role": "viewer"}, 409)
	// Bad input is 400, an existing name 409.
	admin.expect("POST", "/api/v1/users", map[string]string{"name": "a b", "role": "viewer", "password": testPassword}, 400)
	admin.expect("POST", "/api/v1/users", map[string]string{"name": "eve", "role": "root", "password": testPassword}, 400)
	admin.expect("POST", "/api/v1/users", map[string]string{"name": "eve", "role": "viewer", "password": "short"}, 400)
	admin.expect("POST", "/api/v1/users", map[string]string{"name": "operator", "role": "viewer", "password": testPassword}, 409)
	// A password change ends the user's sessions and the new one works.
	op := newClient(t, srv)
	if resp, _ := op.login("operator", testPassword); resp.StatusCode != 200 {
		t.Fatal("operator login failed")
	}
	admin.expect("PUT", "/api/v1/users/operator", map[string]string{"password": "a new passphrase"}, 200)
	op.expect("GET", "/api/v1/me", nil, 401)
	if resp, _ := op.login("operator", "a new passphrase"); resp.StatusCode != 200 {
		t.Fatal("login with the new password failed")
	}
}

func TestLoginIsRateLimitedPerAddressAndPerUser(t *testing.T) {
	f := newAuthFixture(t)
	t.Run("per address, even with the right password once blocked", func(t *testing.T) {
		srv := httptest.NewServer(api.New(api.Config{LoginPerIP: 3, LoginPerUser: 100}, f.store, testLogger(t)).Handler())
		t.Cleanup(srv.Close)
		c := newClient(t, srv)
		for i := 0; i < 3; i++ {
			if resp, _ := c.login("viewer", "wrong password"); resp.StatusCode != 401 {
				t.Fatalf("attempt %d: %d, want 401", i+1, resp.StatusCode)
			}
		}
		resp, b := c.login("viewer", testPassword)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("4th attempt: %d %s (Retry-After %q), want 429", resp.StatusCode, b, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("per user, while other users still log in", func(t *testing.T) {
		srv := httptest.NewServer(api.New(api.Config{LoginPerIP: 100, LoginPerUser: 2}, f.store, testLogger(t)).Handler())
		t.Cleanup(srv.Close)
		c := newClient(t, srv)
		for i := 0; i < 2; i++ {
			if resp, _ := c.login("admin", "wrong password"); resp.StatusCode != 401 {
				t.Fatalf("attempt %d: %d, want 401", i+1, resp.StatusCode)
			}
		}
		if resp, _ := c.login("admin", testPassword); resp.StatusCode != 429 {
			t.Fatalf("admin after 2 failures: %d, want 429", resp.StatusCode)
		}
		if resp, _ := c.login("operator", testPassword); resp.StatusCode != 200 {
			t.Fatalf("operator: %d, want 200", resp.StatusCode)
		}
	})
	t.Run("a login that is not JSON is refused before any password check", func(t *testing.T) {
		srv := httptest.NewServer(api.New(api.Config{}, f.store, testLogger(t)).Handler())
		t.Cleanup(srv.Close)
		resp, err := srv.Client().Post(srv.URL+"/api/v1/login", "application/x-www-form-urlencoded", strings.NewReader("user=admin&password=x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("form login: %d, want 415", resp.StatusCode)
		}
	})
}

// addrListener reports another local address than the one it listens
// on, so that the policy for non-loopback addresses can be exercised
// without listening on a public interface.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l addrListener) Addr() net.Addr { return l.addr }

func listenAs(t *testing.T, addr string) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	real := ln.Addr().String()
	if addr == "" {
		return ln, real
	}
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return addrListener{Listener: ln, addr: a}, real
}

// serve runs srv on ln until the test ends and returns Serve's early
// error, if it stopped at once.
func serve(t *testing.T, s *api.Server, ln net.Listener) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- s.Serve(ctx, ln)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return done
}

// logBuffer collects log lines for assertions, safe for the server's
// goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func bufferLogger(lb *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
