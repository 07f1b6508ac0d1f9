package storage

import (
	"fmt"
	"net"
	"time"
)

// Backends a Config can select.
const (
	BackendEmbedded = "embedded" // chDB in the process, data in DataDir (the default)
	BackendServer   = "server"   // a ClickHouse server or cluster over the native protocol
)

// DefaultDatabase is the database both backends use unless told otherwise.
const DefaultDatabase = "sipscope"

// Config chooses and configures the store. It is loaded once by cmd/ and
// passed down; the zero value plus a DataDir is a valid embedded store.
type Config struct {
	Backend string // BackendEmbedded (default when empty) or BackendServer

	// Embedded.
	DataDir string // chDB data directory, created if missing

	// Server.
	Addr     string // host:port of the native protocol, e.g. "127.0.0.1:9000"
	Database string // default DefaultDatabase
	Username string
	Password string
	Cluster  string // remote_servers cluster name: ON CLUSTER DDL and Distributed tables; empty for one server

	// Retention drops partitions older than this through a table TTL; zero
	// keeps everything. It needs ClickHouse 20 or later and is ignored (with
	// the rest of the schema still created) on older servers.
	Retention time.Duration
}

// Validate reports the first field that cannot work, wrapped in
// ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, why)
	}
	switch c.Backend {
	case "", BackendEmbedded:
		if c.DataDir == "" {
			return bad("DataDir", "required for the embedded backend")
		}
		if c.Cluster != "" {
			return bad("Cluster", "only the server backend can use a cluster")
		}
	case BackendServer:
		if c.Addr == "" {
			return bad("Addr", "required for the server backend")
		}
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return bad("Addr", err.Error())
		}
		if c.Cluster != "" && !validClusterName(c.Cluster) {
			return bad("Cluster", fmt.Sprintf("%q is not a cluster name (letters, digits, _ - .)", c.Cluster))
		}
	default:
		return bad("Backend", fmt.Sprintf("%q is neither %q nor %q", c.Backend, BackendEmbedded, BackendServer))
	}
	if c.Database != "" && !ValidIdentifier(c.Database) {
		return bad("Database", fmt.Sprintf("%q is not an identifier (letters, digits, _)", c.Database))
	}
	if c.Retention < 0 {
		return bad("Retention", "negative")
	}
	if c.Retention > 0 && c.Retention < 24*time.Hour {
		return bad("Retention", "below one day; partitions are dropped by day")
	}
	return nil
}

// DatabaseName is Database or DefaultDatabase.
func (c Config) DatabaseName() string {
	if c.Database == "" {
		return DefaultDatabase
	}
	return c.Database
}
