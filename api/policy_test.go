package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage/embedded"
)

// rawGet sends GET path to base with an optional Host and bearer token.
func rawGet(t *testing.T, hc *http.Client, base, path, host, bearer string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp, b
}

// waitServing polls base until it answers, so no test sleeps.
func waitServing(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := hc.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s never answered: %v", base, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWithoutUsersTheServerRunsOpenOnlyOnLoopback(t *testing.T) {
	st := openStore(t, fixtures())

	t.Run("on loopback it serves every route without credentials and says so", func(t *testing.T) {
		var logs logBuffer
		ln, real := listenAs(t, "")
		serve(t, api.New(api.Config{}, st, bufferLogger(&logs)), ln)
		hc := &http.Client{}
		waitServing(t, hc, "http://"+real)
		for _, p := range []string{"/api/v1/calls", "/api/v1/users", "/api/v1/me"} {
			if resp, b := rawGet(t, hc, "http://"+real, p, "", ""); resp.StatusCode != 200 {
				t.Errorf("GET %s: %d %s", p, resp.StatusCode, b)
			}
		}
		if !strings.Contains(logs.String(), "api runs open") {
			t.Errorf("no log line saying the server runs open:\n%s", logs.String())
		}
	})
	t.Run("on any other address it refuses to start", func(t *testing.T) {
		ln, _ := listenAs(t, "192.0.2.1:8080")
		err := <-serve(t, api.New(api.Config{}, st, testLogger(t)), ln)
		if !errors.Is(err, api.ErrNoUsers) {
			t.Fatalf("Serve: %v, want ErrNoUsers", err)
		}
		err = api.New(api.Config{Listen: "0.0.0.0:0"}, st, testLogger(t)).Run(context.Background())
		if !errors.Is(err, api.ErrNoUsers) {
			t.Fatalf("Run on all interfaces: %v, want ErrNoUsers", err)
		}
	})
	t.Run("with auth mode none it serves any address open and warns", func(t *testing.T) {
		var logs logBuffer
		ln, real := listenAs(t, "192.0.2.1:8080")
		serve(t, api.New(api.Config{AuthMode: api.AuthNone}, st, bufferLogger(&logs)), ln)
		hc := &http.Client{}
		waitServing(t, hc, "http://"+real)
		// No Host check off loopback: a proxy in front names the host.
		if resp, b := rawGet(t, hc, "http://"+real, "/api/v1/calls", "monitor.example.net", ""); resp.StatusCode != 200 {
			t.Errorf("GET /api/v1/calls: %d %s", resp.StatusCode, b)
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "authentication is disabled") {
			t.Errorf("no warning about auth mode none:\n%s", logs.String())
		}
	})
	seedUsers(t, st)
	t.Run("with users it serves any address and asks for credentials", func(t *testing.T) {
		ln, real := listenAs(t, "192.0.2.1:8080")
		serve(t, api.New(api.Config{}, st, testLogger(t)), ln)
		hc := &http.Client{}
		waitServing(t, hc, "http://"+real)
		if resp, _ := rawGet(t, hc, "http://"+real, "/api/v1/calls", "", ""); resp.StatusCode != 401 {
			t.Errorf("GET /api/v1/calls without credentials: %d, want 401", resp.StatusCode)
		}
	})
}

func TestHostHeaderIsCheckedWhileOpenOnLoopback(t *testing.T) {
	st := openStore(t, fixtures())
	srv := httptest.NewServer(api.New(api.Config{}, st, testLogger(t)).Handler())
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		host string
		want int
	}{
		{"localhost with a port is accepted", "localhost:8080", 200},
		{"127.0.0.1 is accepted", "127.0.0.1", 200},
		{"::1 in brackets with a port is accepted", "[::1]:8080", 200},
		{"upper case LOCALHOST is accepted", "LOCALHOST:1", 200},
		{"a rebinding name is refused", "attacker.example:8080", 403},
		{"localhost as a subdomain is refused", "localhost.attacker.example", 403},
		{"another loopback address is refused", "127.0.0.2", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := rawGet(t, srv.Client(), srv.URL, "/api/v1/calls", tt.host, "")
			if resp.StatusCode != tt.want {
				t.Fatalf("Host %q: %d %s, want %d", tt.host, resp.StatusCode, b, tt.want)
			}
		})
	}
	t.Run("configured names replace the defaults", func(t *testing.T) {
		srv := httptest.NewServer(api.New(api.Config{AllowedHosts: []string{"sipscope.lan"}}, st, testLogger(t)).Handler())
		t.Cleanup(srv.Close)
		if resp, _ := rawGet(t, srv.Client(), srv.URL, "/api/v1/calls", "sipscope.lan:8080", ""); resp.StatusCode != 200 {
			t.Errorf("configured name: %d", resp.StatusCode)
		}
		if resp, _ := rawGet(t, srv.Client(), srv.URL, "/api/v1/calls", "localhost", ""); resp.StatusCode != 403 {
			t.Errorf("default name no longer configured: %d", resp.StatusCode)
		}
	})
	t.Run("with users the Host is not checked: a rebinding page has no credentials", func(t *testing.T) {
		tokens := seedUsers(t, st)
		srv := httptest.NewServer(api.New(api.Config{}, st, testLogger(t)).Handler())
		t.Cleanup(srv.Close)
		if resp, _ := rawGet(t, srv.Client(), srv.URL, "/api/v1/calls", "attacker.example", ""); resp.StatusCode != 401 {
			t.Errorf("no credentials: %d, want 401", resp.StatusCode)
		}
		if resp, _ := rawGet(t, srv.Client(), srv.URL, "/api/v1/calls", "monitor.example.net", tokens["viewer"]); resp.StatusCode != 200 {
			t.Errorf("a token with a proxy's Host: %d, want 200", resp.StatusCode)
		}
	})
}

func TestMalformedQueryStringsAre400(t *testing.T) {
	srv := startServer(t, nil) // refused before any store is touched
	for _, q := range []string{"q=%zz", "from_user=%", "limit=10&q=a%2", "%zz=1"} {
		var body struct{ Error, Param string }
		getJSON(t, srv, "/api/v1/calls?"+q, http.StatusBadRequest, &body)
		if body.Param != "query" || !strings.Contains(body.Error, "malformed") {
			t.Errorf("?%s: %+v", q, body)
		}
	}
}

func TestSecurityHeadersAreOnEveryResponse(t *testing.T) {
	f := newAuthFixture(t)
	srv := httptest.NewServer(api.New(api.Config{}, f.store, testLogger(t)).Handler())
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ path, bearer string }{
		{"/healthz", ""}, {"/api/v1/calls", ""}, {"/api/v1/calls", f.tokens["viewer"]},
		{"/api/v1/calls?q=%zz", ""}, {"/no/such/route", ""}, {"/api/v1/openapi.json", ""},
		{"/api/v1/calls/" + strings.ReplaceAll(answeredID, "/", "%2F") + "/pcap", f.tokens["operator"]},
	} {
		resp, _ := rawGet(t, srv.Client(), srv.URL, tc.path, "", tc.bearer)
		h := resp.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("Referrer-Policy") != "no-referrer" || len(h.Get("X-Request-Id")) != 16 {
			t.Errorf("GET %s (%d): headers %v", tc.path, resp.StatusCode, h)
		}
	}
}

// TestStoreErrorsAreLoggedWithARequestIDTheClientGets closes the store
// under a server with users: the client sees only an id, the log has the
// error under that id.
func TestStoreErrorsAreLoggedWithARequestIDTheClientGets(t *testing.T) {
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tokens := seedUsers(t, st)
	var logs logBuffer
	srv := httptest.NewServer(api.New(api.Config{}, st, bufferLogger(&logs)).Handler())
	t.Cleanup(srv.Close)
	if resp, _ := rawGet(t, srv.Client(), srv.URL, "/api/v1/calls", "", tokens["viewer"]); resp.StatusCode != 200 {
		t.Fatalf("before close: %d", resp.StatusCode)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	resp, b := rawGet(t, srv.Client(), srv.URL, "/api/v1/calls", "", tokens["viewer"])
	var body struct {
		Error     string `json:"error"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(b, &body); err != nil || resp.StatusCode != 500 {
		t.Fatalf("after close: %d %s", resp.StatusCode, b)
	}
	if body.Error != "storage unavailable" || body.RequestID == "" || body.RequestID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("body %+v, header id %q", body, resp.Header.Get("X-Request-Id"))
	}
	if strings.Contains(string(b), "closed") {
		t.Errorf("store error text reached the client: %s", b)
	}
	var logged bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "request_id="+body.RequestID) && strings.Contains(line, "store closed") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no log line with request_id=%s and the store error:\n%s", body.RequestID, logs.String())
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sipscope test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSServesHTTPSWithSecureCookies(t *testing.T) {
	f := newAuthFixture(t)
	certFile, keyFile, pool := selfSigned(t)
	ln, real := listenAs(t, "")
	serve(t, api.New(api.Config{TLSCert: certFile, TLSKey: keyFile}, f.store, testLogger(t)), ln)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + real
	waitServing(t, hc, base)

	resp, err := hc.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"user":"viewer","password":"`+testPassword+`"}`))
	if err != nil {
		t.Fatalf("login over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("login: %d, TLS %+v", resp.StatusCode, resp.TLS)
	}
	if c := cookieOf(resp, api.SessionCookie); c == nil || !c.Secure || !c.HttpOnly {
		t.Fatalf("session cookie over TLS %+v, want Secure and HttpOnly", c)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("no Strict-Transport-Security over TLS")
	}
	if r, _ := rawGet(t, hc, base, "/api/v1/me", "", ""); r.StatusCode != 200 {
		t.Errorf("GET /api/v1/me with the TLS session: %d", r.StatusCode)
	}
	// A client that does not trust the certificate fails the handshake.
	if _, err := (&http.Client{}).Get(base + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusting client: %v, want a certificate error", err)
	}
	// Plain HTTP gets no API answer.
	if r, err := (&http.Client{}).Get("http://" + real + "/healthz"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200 on the TLS port")
		}
	}
}

func TestConfigValidateChecksAuthFields(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	tests := []struct {
		name  string
		cfg   api.Config
		field string
	}{
		{"auth mode none is valid", api.Config{AuthMode: "none"}, ""},
		{"an unknown auth mode is refused", api.Config{AuthMode: "basic"}, "AuthMode"},
		{"metrics behind a token is valid", api.Config{MetricsAccess: "token", HealthAccess: "open"}, ""},
		{"an unknown metrics access is refused", api.Config{MetricsAccess: "admin"}, "MetricsAccess"},
		{"an unknown health access is refused", api.Config{HealthAccess: "closed"}, "HealthAccess"},
		{"a certificate without key is refused", api.Config{TLSCert: certFile}, "TLSKey"},
		{"a readable certificate and key are valid", api.Config{TLSCert: certFile, TLSKey: keyFile}, ""},
		{"a missing certificate file is refused", api.Config{TLSCert: certFile + ".none", TLSKey: keyFile}, "TLSCert"},
		{"a host with a port is refused", api.Config{AllowedHosts: []string{"localhost:80"}}, "AllowedHosts"},
		{"a negative login limit is refused", api.Config{LoginPerIP: -1}, "LoginPerIP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, api.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate: %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
}

func TestMetricsAndHealthCanRequireAToken(t *testing.T) {
	f := newAuthFixture(t)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("sipscope_up 1\n")) })
	for _, tc := range []struct {
		name     string
		access   string
		anon     int
		withUser int
	}{
		{"open by default", "", 200, 200},
		{"token when configured", api.AccessToken, 401, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(api.New(api.Config{Metrics: metrics, MetricsAccess: tc.access, HealthAccess: tc.access}, f.store, testLogger(t)).Handler())
			t.Cleanup(srv.Close)
			for _, p := range []string{"/metrics", "/healthz", "/api/v1/healthz"} {
				if r, _ := rawGet(t, srv.Client(), srv.URL, p, "", ""); r.StatusCode != tc.anon {
					t.Errorf("GET %s anonymous: %d, want %d", p, r.StatusCode, tc.anon)
				}
				if r, _ := rawGet(t, srv.Client(), srv.URL, p, "", f.tokens["viewer"]); r.StatusCode != tc.withUser {
					t.Errorf("GET %s with a token: %d, want %d", p, r.StatusCode, tc.withUser)
				}
			}
		})
	}
}
