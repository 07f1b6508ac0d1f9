// Package backend opens the store a configuration names: the embedded
// ClickHouse (chDB) in the data directory, or a ClickHouse server or
// cluster through clickhouse-go. serve and import use it; the parts they
// wire take the methods they need from its Store.
package backend

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/storage/server"
)

// Config chooses the store serve and import write to: the embedded chDB
// in the data directory unless a ClickHouse server URL is given. Its JSON
// keys are serve's config keys.
type Config struct {
	ClickHouse        string `json:"clickhouse"`
	ClickHouseCluster string `json:"clickhouse_cluster"`
	// SpoolStoreMB bounds the disk spool (in the data directory) of live
	// batches the store did not take; 0 turns it off.
	SpoolStoreMB float64 `json:"spool_store_mb"`
	// Retention: days each table keeps (0 keeps for ever; registrations
	// follow calls) and the disk bound of all tables in GB (10^9 bytes).
	RetentionCallsDays    int     `json:"retention_calls_days"`
	RetentionMessagesDays int     `json:"retention_messages_days"`
	RetentionStreamsDays  int     `json:"retention_streams_days"`
	RetentionMaxGB        float64 `json:"retention_max_gb"`
	// StoreRTP is how much of each call's media is kept as captured
	// frames: full, headers (RTP payload left out) or none (SIP frames
	// only; checked by the pipeline's ParseStoreRTP); RetentionPacketsDays
	// is how long the frames are kept.
	StoreRTP             string `json:"store_rtp"`
	RetentionPacketsDays int    `json:"retention_packets_days"`
}

// Retention is the policy the retention keys make.
func (c Config) Retention() storage.RetentionPolicy {
	day := 24 * time.Hour
	return storage.RetentionPolicy{
		Calls: time.Duration(c.RetentionCallsDays) * day, Messages: time.Duration(c.RetentionMessagesDays) * day,
		Streams: time.Duration(c.RetentionStreamsDays) * day, MaxBytes: int64(c.RetentionMaxGB * 1e9),
		Packets: time.Duration(c.RetentionPacketsDays) * day,
	}
}

// AddFlags declares the store flags on fs, bound to c.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.ClickHouse, "clickhouse", c.ClickHouse, "store in this ClickHouse server instead of the embedded one, e.g. clickhouse://user:pass@host:9000/sipscope?secure=true")
	fs.Float64Var(&c.SpoolStoreMB, "spool-store-mb", c.SpoolStoreMB, "disk bound in MB of the spool (in --data) that keeps live batches the store did not take until it does; 0: no spool, a failed write is lost")
	fs.IntVar(&c.RetentionCallsDays, "retention-calls-days", c.RetentionCallsDays, "drop calls and registrations older than this many days (0: keep)")
	fs.IntVar(&c.RetentionMessagesDays, "retention-messages-days", c.RetentionMessagesDays, "drop SIP messages older than this many days (0: keep)")
	fs.IntVar(&c.RetentionStreamsDays, "retention-streams-days", c.RetentionStreamsDays, "drop RTP stream records older than this many days (0: keep)")
	fs.StringVar(&c.StoreRTP, "store-rtp", c.StoreRTP, "media of each call kept as captured frames for its PCAP: full, headers (RTP payload left out) or none (SIP frames only)")
	fs.IntVar(&c.RetentionPacketsDays, "retention-packets-days", c.RetentionPacketsDays, "drop captured frames (SIP, RTP, RTCP) older than this many days (0: keep)")
	fs.Float64Var(&c.RetentionMaxGB, "retention-max-gb", c.RetentionMaxGB, "bound of the store's disk use in GB: the oldest days are dropped first (0: none)")
	fs.StringVar(&c.ClickHouseCluster, "clickhouse-cluster", c.ClickHouseCluster, "create the schema ON CLUSTER this remote_servers cluster (ReplicatedMergeTree + Distributed tables); needs --clickhouse")
}

// Server is the ClickHouse server configuration, or false for the
// embedded store.
func (c Config) Server() (server.Config, bool, error) {
	if c.ClickHouse == "" {
		if c.ClickHouseCluster != "" {
			return server.Config{}, false, errors.New("clickhouse_cluster: needs clickhouse (a server URL)")
		}
		return server.Config{}, false, nil
	}
	sc, err := server.ParseURL(c.ClickHouse)
	if err != nil {
		return sc, false, fmt.Errorf("clickhouse: %w", err)
	}
	sc.Cluster = c.ClickHouseCluster
	sc.Policy = c.Retention()
	if err := sc.Validate(); err != nil {
		return sc, false, fmt.Errorf("clickhouse_cluster: %w", err)
	}
	return sc, true, nil
}

// Validate names the first key that cannot work.
func (c Config) Validate() error {
	if c.SpoolStoreMB < 0 || c.SpoolStoreMB > 0 && c.SpoolStoreMB*1e6 < 64<<10 {
		return fmt.Errorf("spool_store_mb %v: want 0 (off) or at least 0.07", c.SpoolStoreMB)
	}
	for _, d := range []struct {
		key  string
		days int
	}{{"retention_calls_days", c.RetentionCallsDays}, {"retention_messages_days", c.RetentionMessagesDays}, {"retention_streams_days", c.RetentionStreamsDays}, {"retention_packets_days", c.RetentionPacketsDays}} {
		if d.days < 0 {
			return fmt.Errorf("%s %d: want 0 (keep) or more", d.key, d.days)
		}
	}
	if c.RetentionMaxGB < 0 {
		return fmt.Errorf("retention_max_gb %v: want 0 (no bound) or more", c.RetentionMaxGB)
	}
	_, _, err := c.Server()
	return err
}

// Open opens the ClickHouse server c names, or else the embedded
// store in dataDir. sc is assumed valid. reg, when not nil, gets the
// embedded store's read and write lane metrics.
// The description says where the data is, without secrets.
func Open(ctx context.Context, dataDir string, sc Config, logger *slog.Logger, reg prometheus.Registerer) (Store, string, error) {
	cfg, remote, err := sc.Server()
	if err != nil {
		return nil, "", err
	}
	if !remote {
		opts := []embedded.Option{embedded.WithRetentionPolicy(sc.Retention())}
		if reg != nil {
			opts = append(opts, embedded.WithRegisterer(reg))
		}
		st, err := embedded.Open(ctx, dataDir, opts...)
		return st, "data " + dataDir, err
	}
	st, err := server.Open(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	logger.Info("store", "clickhouse", cfg.Redacted(), "cluster", cfg.Cluster, "version", st.ServerVersion())
	return st, "clickhouse " + cfg.Redacted(), nil
}

// Store is every method serve's parts use of a store; both backends have
// them all.
type Store interface {
	Write(ctx context.Context, b storage.Batch) error
	ListCalls(ctx context.Context, f storage.CallFilter) (storage.CallPage, error)
	CountCalls(ctx context.Context, f storage.CallFilter) (storage.CallCounts, error)
	GetCall(ctx context.Context, callID string) (storage.CallDetail, error)
	CallMessages(ctx context.Context, callIDs []string, maxBytes int64) ([]correlate.Message, error)
	OpenCallMessages(ctx context.Context, since time.Time, limit int, fn func(correlate.Message) error) error
	CallPackets(ctx context.Context, callIDs []string) ([]storage.Packet, error)
	KPIs(ctx context.Context, f storage.KPIFilter) ([]storage.KPIBucket, error)
	ListRegistrations(ctx context.Context, f storage.RegistrationFilter) (storage.RegistrationPage, error)
	GetRegistration(ctx context.Context, callID string) (storage.RegistrationDetail, error)
	ListStreams(ctx context.Context, f storage.StreamFilter) (storage.StreamPage, error)
	PutUser(ctx context.Context, u storage.User) error
	DeleteUser(ctx context.Context, name string) error
	GetUser(ctx context.Context, name string) (storage.User, error)
	ListUsers(ctx context.Context) ([]storage.User, error)
	PutToken(ctx context.Context, t storage.Token) error
	DeleteToken(ctx context.Context, id string) error
	GetToken(ctx context.Context, id string) (storage.Token, error)
	ListTokens(ctx context.Context) ([]storage.Token, error)
	WriteAlert(ctx context.Context, a alert.Alert) error
	ListAlerts(ctx context.Context, f storage.AlertFilter) (storage.AlertPage, error)
	GetAlert(ctx context.Context, id string) (alert.Alert, error)
	MessagesInWindow(ctx context.Context, w storage.MessageWindow) ([]correlate.Message, bool, error)
	storage.RetentionEnforcer
	Close() error
}

var (
	_ Store = (*embedded.Store)(nil)
	_ Store = (*server.Store)(nil)
)
