package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// Config says where the server is. Database defaults to
// storage.DefaultDatabase; Cluster names a remote_servers cluster for
// ON CLUSTER DDL and Distributed tables.
type Config struct {
	Addr     string // host:port of the native protocol, e.g. "127.0.0.1:9000"
	Database string
	Username string
	Password string
	Cluster  string
	// Secure speaks TLS to the server's tcp_port_secure; SkipVerify
	// accepts any certificate (a test server's own).
	Secure, SkipVerify bool
	// Retention becomes a table TTL on servers from 20.3 on; see
	// storage.Config.Retention.
	Retention time.Duration
	// Policy's age limits become per-table TTLs on servers from 20.3 on;
	// EnforceRetention applies it on every version.
	Policy storage.RetentionPolicy
}

func (c Config) storageConfig() storage.Config {
	return storage.Config{Backend: storage.BackendServer, Addr: c.Addr, Database: c.Database,
		Username: c.Username, Password: c.Password, Cluster: c.Cluster, Retention: c.Retention}
}

func (c Config) tlsConfig() *tls.Config {
	if !c.Secure {
		return nil
	}
	return &tls.Config{InsecureSkipVerify: c.SkipVerify} //nolint:gosec // only when the URL says skip_verify=true
}

// Validate reports the first unusable field, wrapping storage.ErrInvalidConfig.
func (c Config) Validate() error {
	if err := c.storageConfig().Validate(); err != nil {
		return err
	}
	return c.Policy.Validate()
}

// Store is a connection pool to one ClickHouse server holding the sipscope
// schema. It is safe for concurrent use.
type Store struct {
	conn    driver.Conn
	db      string
	cluster string
	version string
	clock   storage.VersionClock

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open connects, reads the server version, creates the database and
// tables that are missing and adds the columns that tables of an older
// sipscope lack (storage.Migrate).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Addr},
		// No Database in Auth: it may not exist yet, and every statement
		// names its database anyway.
		Auth:        clickhouse.Auth{Username: cfg.Username, Password: cfg.Password},
		DialTimeout: 5 * time.Second,
		TLS:         cfg.tlsConfig(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, cfg.Addr, err)
	}
	s := &Store{conn: conn, db: cfg.storageConfig().DatabaseName(), cluster: cfg.Cluster}
	if err := (querier{s}).Query(ctx, "SELECT version()", []any{&s.version}, func() error { return nil }); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: version: %w", ErrConnect, cfg.Addr, err)
	}
	schemaCfg := storage.SchemaConfig{Database: s.db, Cluster: cfg.Cluster, Retention: cfg.Retention,
		TableRetention: cfg.Policy.TableRetention()}
	for _, stmt := range storage.Schema(s.version, schemaCfg) {
		if err := conn.Exec(ctx, stmt); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: %w\n%s", ErrSchema, err, stmt)
		}
	}
	// Tables an older sipscope created gain the columns added since.
	if _, err := storage.Migrate(ctx, querier{s}, querier{s}, s.version, schemaCfg); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	return s, nil
}

// ServerVersion is the server's SELECT version().
func (s *Store) ServerVersion() string { return s.version }

// Write stores a batch; see storage.Write.
func (s *Store) Write(ctx context.Context, b storage.Batch) error {
	return storage.Write(ctx, inserter{s}, s.db, b, &s.clock)
}

// EnforceRetention drops the partitions p no longer keeps; see
// storage.EnforceRetention (in a cluster: ON CLUSTER, sizes of this server).
func (s *Store) EnforceRetention(ctx context.Context, p storage.RetentionPolicy, now time.Time) (storage.RetentionResult, error) {
	return storage.EnforceRetention(ctx, querier{s}, querier{s}, s.db, s.cluster, p, now)
}

// ListCalls returns one page of calls; see storage.ListCalls.
func (s *Store) ListCalls(ctx context.Context, f storage.CallFilter) (storage.CallPage, error) {
	return storage.ListCalls(ctx, querier{s}, s.db, f)
}

// CountCalls counts the calls of f per state and final code; see
// storage.CountCalls.
func (s *Store) CountCalls(ctx context.Context, f storage.CallFilter) (storage.CallCounts, error) {
	return storage.CountCalls(ctx, querier{s}, s.db, f)
}

// CallMessages reads the SIP messages of several calls in capture
// order; see storage.CallMessages.
func (s *Store) CallMessages(ctx context.Context, callIDs []string, maxBytes int64) ([]correlate.Message, error) {
	return storage.CallMessages(ctx, querier{s}, s.db, callIDs, maxBytes)
}

// GetCall returns a call with its messages and streams, or an error
// wrapping storage.ErrNotFound.
func (s *Store) GetCall(ctx context.Context, callID string) (storage.CallDetail, error) {
	return storage.GetCall(ctx, querier{s}, s.db, callID)
}

// CallPackets returns the captured frames of the calls callIDs in
// capture order; see storage.CallPackets.
func (s *Store) CallPackets(ctx context.Context, callIDs []string) ([]storage.Packet, error) {
	return storage.CallPackets(ctx, querier{s}, s.db, callIDs)
}

// KPIs computes call and registration KPIs per time bucket; see
// storage.KPIs.
func (s *Store) KPIs(ctx context.Context, f storage.KPIFilter) ([]storage.KPIBucket, error) {
	return storage.KPIs(ctx, querier{s}, s.db, f)
}

// OpenCallMessages reads the messages of the calls not finished when last
// written; see storage.OpenCallMessages.
func (s *Store) OpenCallMessages(ctx context.Context, since time.Time, limit int, fn func(correlate.Message) error) error {
	return storage.OpenCallMessages(ctx, querier{s}, s.db, since, limit, fn)
}

// ListRegistrations returns one page of registrations; see storage.ListRegistrations.
func (s *Store) ListRegistrations(ctx context.Context, f storage.RegistrationFilter) (storage.RegistrationPage, error) {
	return storage.ListRegistrations(ctx, querier{s}, s.db, f)
}

// GetRegistration returns the exchanges and messages of one registration
// Call-ID, or an error wrapping storage.ErrNotFound.
func (s *Store) GetRegistration(ctx context.Context, callID string) (storage.RegistrationDetail, error) {
	return storage.GetRegistration(ctx, querier{s}, s.db, callID)
}

// ListStreams returns one page of RTP streams; see storage.ListStreams.
func (s *Store) ListStreams(ctx context.Context, f storage.StreamFilter) (storage.StreamPage, error) {
	return storage.ListStreams(ctx, querier{s}, s.db, f)
}

// PutUser creates or replaces a user; see storage.PutUser.
func (s *Store) PutUser(ctx context.Context, u storage.User) error {
	return storage.PutUser(ctx, inserter{s}, s.db, u, &s.clock)
}

// DeleteUser removes a user; see storage.DeleteUser.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return storage.DeleteUser(ctx, querier{s}, inserter{s}, s.db, name, &s.clock)
}

// GetUser reads a user, or an error wrapping storage.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (storage.User, error) {
	return storage.GetUser(ctx, querier{s}, s.db, name)
}

// ListUsers returns every user by name.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	return storage.ListUsers(ctx, querier{s}, s.db)
}

// PutToken stores a new API token; see storage.PutToken.
func (s *Store) PutToken(ctx context.Context, t storage.Token) error {
	return storage.PutToken(ctx, inserter{s}, s.db, t, &s.clock)
}

// DeleteToken revokes a token; see storage.DeleteToken.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return storage.DeleteToken(ctx, querier{s}, inserter{s}, s.db, id, &s.clock)
}

// GetToken reads a live token, or an error wrapping storage.ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id string) (storage.Token, error) {
	return storage.GetToken(ctx, querier{s}, s.db, id)
}

// ListTokens returns every live token, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]storage.Token, error) {
	return storage.ListTokens(ctx, querier{s}, s.db)
}

// Close closes the connections. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = s.conn.Close()
	})
	return s.closeErr
}

// querier implements storage.Querier, kept off Store so that running
// arbitrary SQL is not part of its API.
type querier struct{ s *Store }

// Modern tells storage's queries whether the server is newer than the
// 18.16 generation (storage.Querier).
func (q querier) Modern() bool { return storage.IsModern(q.s.version) }

// Clustered tells storage that call_index may lack calls (a cluster's
// from before revision 10, whose tables were not rebuilt).
func (q querier) Clustered() bool { return q.s.cluster != "" }

func (q querier) Query(ctx context.Context, query string, dest []any, row func() error) error {
	if q.s.closed.Load() {
		return storage.ErrClosed
	}
	rows, err := q.s.conn.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := row(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Exec implements storage.Execer.
func (q querier) Exec(ctx context.Context, stmt string) error {
	if q.s.closed.Load() {
		return storage.ErrClosed
	}
	return q.s.conn.Exec(ctx, stmt)
}

// inserter implements storage.Inserter with a native batch, kept off Store
// so that Insert is not part of its API.
type inserter struct{ s *Store }

func (i inserter) Insert(ctx context.Context, insert string, _ []storage.Column, rows [][]any) error {
	if i.s.closed.Load() {
		return storage.ErrClosed
	}
	batch, err := i.s.conn.PrepareBatch(ctx, insert)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			batch.Abort()
			return err
		}
	}
	return batch.Send()
}
