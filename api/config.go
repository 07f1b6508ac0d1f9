package api

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/storage"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultSessionTTL        = 12 * time.Hour
	DefaultMaxSessions       = 10000
	DefaultLoginPerIP        = 10 // attempts per minute
	DefaultLoginPerUser      = 5  // failed attempts per minute
	DefaultLoginTableSize    = 10000
)

// Values of Config.AuthMode.
const (
	// AuthAuto (the default) asks for credentials once a user exists;
	// with none, the server runs open on a loopback address and refuses
	// to start on any other.
	AuthAuto = ""
	// AuthNone never asks for credentials, on any address (with a warning
	// at start). For a deployment behind an authenticating proxy.
	AuthNone = "none"
)

// Values of Config.MetricsAccess and Config.HealthAccess.
const (
	AccessOpen  = "open"  // the default: anyone who reaches the port
	AccessToken = "token" // any authenticated user or token
)

// DefaultAllowedHosts are the Host names accepted while the server runs
// open on a loopback address; any port is accepted with them.
var DefaultAllowedHosts = []string{"localhost", "127.0.0.1", "::1"}

// Config configures the HTTP server. Zero fields take the Default* values.
type Config struct {
	// Listen is the TCP address to listen on, host:port. Loopback by
	// default: without users the server runs open only there.
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
	// StoreStatus, when set, is reported by GET /api/v1/status under
	// "store": the store's disk use per table (serve's retention rounds,
	// which measure it with or without a retention policy), live capture
	// or not; it must be safe to call from any goroutine.
	StoreStatus func() any
	// Alerts, when set, lists the alerts of live traffic (GET
	// /api/v1/alerts) for a store that keeps none (see AlertStore: with
	// one, the routes read the store); it must be safe to call from any
	// goroutine.
	Alerts func() []alert.Alert
	// Events, when set, is the hub GET /api/v1/events streams from; the
	// live runner (OnStored) and the alert engine (as a Sink) feed it.
	// Without it the route answers 501.
	Events *Events

	// AuthMode is AuthAuto ("") or AuthNone ("none"); see those.
	AuthMode string
	// TLSCert and TLSKey, both set, are PEM files: the server then speaks
	// HTTPS only and its session cookie is Secure.
	TLSCert, TLSKey string
	// MetricsAccess and HealthAccess say who may read /metrics and the
	// health checks: AccessOpen (default) or AccessToken.
	MetricsAccess, HealthAccess string
	// AllowedHosts are the Host header names (any port) accepted while
	// the server runs open on a loopback address, against DNS rebinding.
	// Default DefaultAllowedHosts.
	AllowedHosts []string
	// SessionTTL is how long a UI login lasts; MaxSessions bounds the
	// session table (the oldest is dropped and counted when full).
	SessionTTL  time.Duration
	MaxSessions int
	// LoginPerIP bounds login attempts per client address and minute,
	// LoginPerUser failed attempts per user name and minute.
	LoginPerIP, LoginPerUser int
	// MaxExportCalls and MaxExportBytes bound a multi-call PCAP export
	// (GET /api/v1/calls.pcap): more matching calls, or a larger file, is
	// refused with 413. Defaults DefaultMaxExportCalls, DefaultMaxExportBytes.
	MaxExportCalls int
	MaxExportBytes int64
	// Registerer, when set, receives the API's metrics
	// (sipscope_api_*).
	Registerer prometheus.Registerer
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
	if c.MetricsAccess == "" {
		c.MetricsAccess = AccessOpen
	}
	if c.HealthAccess == "" {
		c.HealthAccess = AccessOpen
	}
	if c.AllowedHosts == nil {
		c.AllowedHosts = DefaultAllowedHosts
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.LoginPerIP == 0 {
		c.LoginPerIP = DefaultLoginPerIP
	}
	if c.LoginPerUser == 0 {
		c.LoginPerUser = DefaultLoginPerUser
	}
	if c.MaxExportCalls == 0 {
		c.MaxExportCalls = DefaultMaxExportCalls
	}
	if c.MaxExportBytes == 0 {
		c.MaxExportBytes = DefaultMaxExportBytes
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
	if c.AuthMode != AuthAuto && c.AuthMode != AuthNone {
		return fmt.Errorf("%w: AuthMode %q is not \"\" or %q", ErrInvalidConfig, c.AuthMode, AuthNone)
	}
	for name, v := range map[string]string{"MetricsAccess": c.MetricsAccess, "HealthAccess": c.HealthAccess} {
		if v != AccessOpen && v != AccessToken {
			return fmt.Errorf("%w: %s %q is not %q or %q", ErrInvalidConfig, name, v, AccessOpen, AccessToken)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: TLSCert and TLSKey go together", ErrInvalidConfig)
	}
	if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			return fmt.Errorf("%w: TLSCert/TLSKey: %v", ErrInvalidConfig, err)
		}
	}
	for _, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, ":/ ") && net.ParseIP(h) == nil {
			return fmt.Errorf("%w: AllowedHosts %q: a host name or IP without port", ErrInvalidConfig, h)
		}
	}
	if c.SessionTTL < 0 || c.MaxSessions < 0 || c.LoginPerIP < 0 || c.LoginPerUser < 0 {
		return fmt.Errorf("%w: SessionTTL, MaxSessions, LoginPerIP and LoginPerUser must not be negative", ErrInvalidConfig)
	}
	if c.MaxExportCalls < 0 || c.MaxExportCalls > storage.MaxLimit {
		return fmt.Errorf("%w: MaxExportCalls %d is not from 1 to %d", ErrInvalidConfig, c.MaxExportCalls, storage.MaxLimit)
	}
	if c.MaxExportBytes < 0 {
		return fmt.Errorf("%w: MaxExportBytes %d is negative", ErrInvalidConfig, c.MaxExportBytes)
	}
	return nil
}

// isLoopbackHost reports whether a listen host only reaches this machine.
// An empty host (all interfaces) does not.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
