package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Server serves the JSON API, the PCAP export and, when configured, the UI.
type Server struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	engine *gin.Engine
}

// New builds a Server over store. A nil logger discards logs. Config errors
// are reported by Run (and by Config.Validate), so that New cannot fail.
//
// Routes:
//
//	GET /healthz, /api/v1/healthz   {"status":"ok"}
//	GET /api/v1/calls               CallListView; filters as ParseCallFilter reads them
//	GET /api/v1/calls/:id           CallDetailView; :id is the path-escaped Call-ID
//	GET /api/v1/calls/:id/pcap      the call's SIP as a pcap file (WritePCAP)
//	GET /, /ui/*                    Config.UI, when set
//	GET /metrics                    Config.Metrics (Prometheus), when set
//
// Errors are JSON {"error": "..."}: 400 with "param" naming a bad
// parameter, 404 for an unknown call or route, 500 when storage fails.
func New(cfg Config, store Store, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg.withDefaults(), store: store, log: logger}

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
	e.Use(s.recoverPanics, s.logRequests)

	e.GET("/healthz", s.healthz)
	v1 := e.Group("/api/v1")
	v1.GET("/healthz", s.healthz)
	v1.GET("/calls", s.listCalls)
	v1.GET("/calls/:id", s.getCall)
	v1.GET("/calls/:id/pcap", s.callPCAP)
	v1.GET("/status", func(c *gin.Context) {
		var st any = gin.H{}
		if s.cfg.Status != nil {
			st = s.cfg.Status()
		}
		c.JSON(http.StatusOK, gin.H{"live": st})
	})

	if s.cfg.Metrics != nil {
		e.GET("/metrics", gin.WrapH(s.cfg.Metrics))
	}
	if s.cfg.UI != nil {
		ui := gin.WrapH(s.cfg.UI)
		e.GET("/", ui)
		e.HEAD("/", ui)
		e.GET("/ui/*path", ui)
		e.HEAD("/ui/*path", ui)
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
// tests). It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("api listening", "addr", ln.Addr().String())

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
	)
}
