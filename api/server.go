package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// Server serves the JSON API, the PCAP export and, when configured, the UI.
type Server struct {
	cfg      Config
	store    Store
	log      *slog.Logger
	engine   *gin.Engine
	routes   []route
	auth     *authState
	sessions *sessions
	loginIP  *limiter
	loginUsr *limiter
	metrics  *metrics
	// loopback is true when the server listens only on this machine; the
	// Host check applies then (see checkHost).
	loopback atomic.Bool
	// closing is closed when the HTTP server shuts down, to end the
	// event streams, which would otherwise hold Shutdown until its
	// timeout.
	closing   chan struct{}
	closeOnce sync.Once
	// exports holds a token per multi-call export running.
	exports chan struct{}
}

// New builds a Server over store. A nil logger discards logs. Config errors
// are reported by Run (and by Config.Validate), so that New cannot fail.
// When store also implements AuthStore (both storage backends do), its
// users and tokens guard the routes; see Routes for who may call what.
//
// Errors are JSON {"error": "..."}: 400 with "param" naming a bad
// parameter, 401 without valid credentials, 403 for a role too low or a
// missing CSRF header, 404 for an unknown record or route, 429 when login
// is rate-limited, 500 with "request_id" (the id in the server's log)
// when storage fails. Storage error text never reaches the client.
func New(cfg Config, store Store, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, store: store, log: logger, metrics: newMetrics(cfg.Registerer), closing: make(chan struct{}),
		exports: make(chan struct{}, maxConcurrentExports)}
	s.auth = &authState{none: cfg.AuthMode == AuthNone, recheck: usersRecheck}
	if as, ok := store.(AuthStore); ok {
		s.auth.store = as
	}
	s.auth.users.Store(-1)
	if host, _, err := net.SplitHostPort(cfg.Listen); err == nil && isLoopbackHost(host) {
		s.loopback.Store(true)
		s.auth.openWithoutUsers.Store(true)
	}
	s.sessions = newSessions(cfg.MaxSessions, cfg.SessionTTL, func() { s.metrics.evictions.WithLabelValues("sessions").Inc() })
	s.loginIP = newLimiter(cfg.LoginPerIP, time.Minute, DefaultLoginTableSize, func() { s.metrics.evictions.WithLabelValues("login_ip").Inc() })
	s.loginUsr = newLimiter(cfg.LoginPerUser, time.Minute, DefaultLoginTableSize, func() { s.metrics.evictions.WithLabelValues("login_user").Inc() })

	// gin keeps its mode in a package variable; release mode is the only one
	// that does not print route tables and warnings to stdout. Setting it is
	// idempotent and atomic.
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// Call-IDs may contain '/', '?' and '+': route on the escaped path so
	// that %2F stays inside the :id segment, and unescape the value
	// ourselves with path (not query) rules so that '+' stays '+'.
	e.UseEscapedPath = true
	e.UnescapePathValues = false
	e.HandleMethodNotAllowed = true
	// The API is not meant to sit behind proxies it must trust; never take
	// client addresses from X-Forwarded-For.
	_ = e.SetTrustedProxies(nil)
	e.Use(s.recoverPanics, s.requestID, s.securityHeaders, s.logRequests, s.checkHost, s.checkQuery)

	s.routes = s.routeTable()
	for _, r := range s.routes {
		e.Handle(r.method, r.path, s.require(r.access), r.handler)
	}
	e.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such route"})
	})
	e.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, gin.H{"error": "method not allowed"})
	})
	s.engine = e
	return s
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.engine }

// Run listens on Config.Listen and serves until ctx is done, then shuts down
// gracefully, waiting at most Config.ShutdownTimeout for open requests.
func (s *Server) Run(ctx context.Context) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened (for instance on port 0 in
// tests). It closes ln. The authentication policy is decided on ln's
// address: with no user defined it serves open on a loopback address
// (and says so), refuses any other address with ErrNoUsers unless
// AuthMode is "none" (and warns then). With TLSCert/TLSKey it serves TLS.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.cfg.Validate(); err != nil {
		ln.Close()
		return err
	}
	if err := s.checkPolicy(ctx, ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { s.closeOnce.Do(func() { close(s.closing) }) })
	scheme := "http"
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("%w: TLSCert/TLSKey: %v", ErrInvalidConfig, err)
		}
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
			NextProtos: []string{"h2", "http/1.1"}})
		scheme = "https"
	}
	s.log.Info("api listening", "addr", ln.Addr().String(), "scheme", scheme)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	s.log.Info("api stopped")
	return nil
}

// recoverPanics turns a handler panic into a logged 500 instead of a dropped
// connection; http.ErrAbortHandler keeps its meaning.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler {
			panic(r)
		}
		s.log.Error("api handler panic", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", fmt.Sprint(r))
		if !c.Writer.Written() {
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
			return
		}
		c.Abort()
	}()
	c.Next()
}

// logRequests logs each request at debug level: the API is polled by the UI
// and per-request info lines would drown everything else.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(c.Request.Context(), level, "api request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.EscapedPath()),
		slog.Int("status", status),
		slog.Int("bytes", c.Writer.Size()),
		slog.Duration("took", time.Since(start)),
		slog.String("client", c.ClientIP()),
		slog.String("request_id", requestIDOf(c)),
	)
}

// checkPolicy applies the rule on running without users to the address
// the server listens on, and logs what it decided.
func (s *Server) checkPolicy(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	loop := err == nil && isLoopbackHost(host)
	s.loopback.Store(loop)
	s.auth.openWithoutUsers.Store(loop || s.auth.none)
	if err := s.auth.reload(ctx); err != nil {
		return fmt.Errorf("api: read users: %w", err)
	}
	has := s.auth.users.Load() == 1
	switch {
	case s.auth.none:
		s.log.Warn("api authentication is disabled (auth mode none): anyone who reaches the port reads every call", "addr", addr)
	case has:
		s.log.Info("api authentication required", "addr", addr)
	case loop:
		s.log.Warn("api runs open: no users defined, serving loopback only; add one with sipscope user add", "addr", addr)
	default:
		return ErrNoUsers
	}
	return nil
}
