package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/sipscope/sipscope/storage"
)

// apiContentSecurityPolicy is for JSON and downloads: nothing is to be
// rendered, framed or fetched. The UI handler sets its own, wider policy.
const apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const (
	ctxRequestID = "sipscope.request_id"
	ctxPrincipal = "sipscope.principal"
)

// requestID names each request in the logs and in error answers, so that a
// client can report an id instead of the store's error text.
func (s *Server) requestID(c *gin.Context) {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails on Linux; a zero id is still an id
	id := hex.EncodeToString(b[:])
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

func requestIDOf(c *gin.Context) string { return c.GetString(ctxRequestID) }

// securityHeaders go on every response, errors and 404s included.
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", apiContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

// checkHost refuses Host names other than the configured ones while the
// server runs open on loopback: a web page whose name an attacker made
// resolve to 127.0.0.1 (DNS rebinding) would otherwise read the API with
// the browser as a proxy. With authentication on, such a page has no
// credentials to send.
func (s *Server) checkHost(c *gin.Context) {
	if !s.loopback.Load() {
		c.Next()
		return
	}
	open, err := s.auth.open(c.Request.Context())
	if err != nil {
		s.storeFailed(c, "read users", err)
		c.Abort()
		return
	}
	if open && !s.hostAllowed(c.Request.Host) {
		s.metrics.denied.WithLabelValues("host").Inc()
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "host not allowed", "request_id": requestIDOf(c)})
		return
	}
	c.Next()
}

func (s *Server) hostAllowed(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	for _, a := range s.cfg.AllowedHosts {
		if strings.EqualFold(host, a) {
			return true
		}
	}
	return false
}

// checkQuery refuses a query string that does not parse (q=%zz): the
// handlers read url.Values, which silently drops such pairs and would
// answer an unfiltered list.
func (s *Server) checkQuery(c *gin.Context) {
	if _, err := url.ParseQuery(c.Request.URL.RawQuery); err != nil {
		s.metrics.denied.WithLabelValues("query").Inc()
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "malformed query string", "param": "query"})
		return
	}
	c.Next()
}

// require lets a request through when its principal has at least a, and
// checks the CSRF token of state-changing requests a session cookie
// authenticates.
func (s *Server) require(a access) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a == accessOpen {
			c.Next()
			return
		}
		ctx := c.Request.Context()
		open, err := s.auth.open(ctx)
		if err != nil {
			s.storeFailed(c, "read users", err)
			c.Abort()
			return
		}
		if open {
			c.Set(ctxPrincipal, &principal{role: RoleAdmin, access: accessAdmin, via: "open"})
			c.Next()
			return
		}
		p, err := s.authenticate(c)
		if errors.Is(err, errUnauthenticated) {
			s.metrics.denied.WithLabelValues("unauthenticated").Inc()
			c.Header("WWW-Authenticate", `Bearer realm="sipscope"`)
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "authentication required"})
			return
		}
		if err != nil {
			s.storeFailed(c, "authenticate", err)
			c.Abort()
			return
		}
		if p.access < a {
			s.metrics.denied.WithLabelValues("forbidden").Inc()
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "this needs the " + a.String() + " role", "role": p.role})
			return
		}
		if p.via == "session" && !safeMethod(c.Request.Method) {
			got := c.GetHeader(CSRFHeader)
			if got == "" || !constantTimeEqual(got, p.session.csrf) {
				s.metrics.denied.WithLabelValues("csrf").Inc()
				c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "missing or wrong " + CSRFHeader + " header"})
				return
			}
		}
		c.Set(ctxPrincipal, p)
		c.Next()
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate finds who sent the request: a bearer token, else a session
// cookie. errUnauthenticated when neither is valid.
func (s *Server) authenticate(c *gin.Context) (*principal, error) {
	if s.auth.store == nil {
		return nil, errUnauthenticated
	}
	ctx := c.Request.Context()
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, errUnauthenticated
		}
		secret = strings.TrimSpace(secret)
		id, ok := tokenID(secret)
		if !ok {
			return nil, errUnauthenticated
		}
		tok, err := s.auth.store.GetToken(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errUnauthenticated
		}
		if err != nil {
			return nil, err
		}
		if !constantTimeEqual(tokenHash(secret), tok.Hash) {
			return nil, errUnauthenticated
		}
		return s.principalOf(c, tok.User, "token", nil)
	}
	cookie, err := c.Cookie(SessionCookie)
	if err != nil {
		return nil, errUnauthenticated
	}
	sess, ok := s.sessions.get(cookie)
	if !ok {
		return nil, errUnauthenticated
	}
	return s.principalOf(c, sess.user, "session", sess)
}

// principalOf reads the user's current role, so that a role change or a
// deletion applies to sessions and tokens at once.
func (s *Server) principalOf(c *gin.Context, name, via string, sess *session) (*principal, error) {
	u, err := s.auth.store.GetUser(c.Request.Context(), name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	a, ok := roleAccess(u.Role)
	if !ok {
		return nil, errUnauthenticated
	}
	return &principal{user: u.Name, role: u.Role, access: a, via: via, session: sess}, nil
}

func principalOf(c *gin.Context) *principal {
	if v, ok := c.Get(ctxPrincipal); ok {
		if p, ok := v.(*principal); ok {
			return p
		}
	}
	return &principal{}
}
