package api

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
)

// Config configures the HTTP server. Zero fields take the Default* values.
type Config struct {
	// Listen is the TCP address to listen on, host:port. Loopback by default
	// because the API has no authentication of its own.
	Listen string
	// ReadHeaderTimeout bounds how long a client may take to send headers.
	ReadHeaderTimeout time.Duration
	// ShutdownTimeout bounds how long Run waits for in-flight requests once
	// its context is done.
	ShutdownTimeout time.Duration
	// UI, when set, serves GET / and GET /ui/*. It is injected (normally
	// ui.Handler()) rather than imported because the UI sits to the right of
	// the API in the pipeline and only consumes it.
	UI http.Handler
	// Metrics, when set, serves GET /metrics (a Prometheus handler on the
	// registry the other stages registered on).
	Metrics http.Handler
	// Status, when set, is reported by GET /api/v1/status (live capture
	// counters: packets, kernel and queue drops); it must be safe to call
	// from any goroutine.
	Status func() any
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	return c
}

// Validate reports the first invalid field, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("%w: Listen %q: %w", ErrInvalidConfig, c.Listen, err)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("%w: Listen %q: bad host", ErrInvalidConfig, c.Listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%w: Listen %q: port must be 0-65535", ErrInvalidConfig, c.Listen)
	}
	if c.ReadHeaderTimeout < 0 {
		return fmt.Errorf("%w: ReadHeaderTimeout %v is negative", ErrInvalidConfig, c.ReadHeaderTimeout)
	}
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("%w: ShutdownTimeout %v is negative", ErrInvalidConfig, c.ShutdownTimeout)
	}
	return nil
}

// validHostname accepts names like "localhost" or "monitor.example.net".
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}
