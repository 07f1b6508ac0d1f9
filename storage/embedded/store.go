package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded/libchdb"
)

// session is held by the open Store. It is the package's only state and
// mirrors a process-wide fact: the engine runs on one data directory per
// process.
var session sync.Mutex

// insertDirName is where inserts stage their Native files, inside the
// data directory so that they stay on the same disk as the data.
const insertDirName = "sipscope-insert"

// Store is a chDB session on one data directory holding the sipscope
// schema. Its methods are safe for concurrent use.
//
// Writes (inserts, DDL, retention's partition drops) run one at a time on
// a connection of their own; reads run on a small pool of other
// connections to the same engine. The engine runs statements of different
// connections in parallel, so a list request during an INVITE flood does
// not wait for the insert in progress, however large (issue #15: with one
// connection it waited up to 5.8 s behind the flood's inserts).
type Store struct {
	// gate is held shared by every statement and exclusively by Close,
	// which therefore waits for the statements in progress.
	gate   sync.RWMutex
	closed bool

	writeMu sync.Mutex // serialises the write connection's statements
	write   *libchdb.Conn
	reads   chan *libchdb.Conn // idle read connections
	conns   []*libchdb.Conn    // every connection, for Close

	dataDir   string
	insertDir string
	version   string
	clock     storage.VersionClock
	lanes     laneStats
}

// Option adjusts Open.
type Option func(*options)

type options struct {
	retention time.Duration
	policy    storage.RetentionPolicy
	readConns int
	reg       prometheus.Registerer
}

// DefaultReadConns is how many connections serve reads unless
// WithReadConns says otherwise: a call's detail runs its three reads at
// once (storage.GetCall), and a list a user waits for can run beside a
// longer read (a KPI range, a PCAP export).
const DefaultReadConns = 3

// WithRegisterer serves the store's LaneStats as Prometheus metrics
// (sipscope_store_reads_total, _writes_total, _reads_beside_writes_total,
// _read_wait_max_seconds, _read_max_seconds) on reg.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) { o.reg = reg }
}

// WithReadConns sets how many connections serve reads (at least 1; each
// is an engine session of a few MB). Reads beyond them wait for one.
func WithReadConns(n int) Option {
	return func(o *options) { o.readConns = n }
}

// WithRetentionPolicy gives new tables the policy's age limits as a TTL
// per table (storage.SchemaConfig.TableRetention); EnforceRetention
// applies the policy to tables old and new.
func WithRetentionPolicy(p storage.RetentionPolicy) Option {
	return func(o *options) { o.policy = p }
}

// WithRetention drops data older than d through a table TTL, as
// storage.Config.Retention describes. The TTL is set when the tables are
// created; changing it later needs ALTER TABLE ... MODIFY TTL.
func WithRetention(d time.Duration) Option {
	return func(o *options) { o.retention = d }
}

// Open starts chDB on dataDir (created if missing), creates the sipscope
// database and tables there if they do not exist yet and adds the columns
// that tables of an older sipscope lack (storage.Migrate). Only one Store
// may be open per process; Open after Close is fine.
func Open(ctx context.Context, dataDir string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataDir)
	if dataDir == "" || err != nil {
		return nil, fmt.Errorf("%w: %q", ErrDataDir, dataDir)
	}
	// The path reaches the engine as a C string.
	if strings.ContainsRune(abs, 0) {
		return nil, fmt.Errorf("%w: %q contains NUL", ErrDataDir, abs)
	}
	insertDir := filepath.Join(abs, insertDirName)
	if err := os.MkdirAll(insertDir, 0o750); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	if o.readConns <= 0 {
		o.readConns = DefaultReadConns
	}
	if !session.TryLock() {
		return nil, ErrSessionInUse
	}
	s := &Store{dataDir: abs, insertDir: insertDir, reads: make(chan *libchdb.Conn, o.readConns)}
	// The first connection starts the engine on the directory; the others
	// join it and share its tables.
	for i := range 1 + o.readConns {
		conn, err := connect(abs)
		if err != nil {
			s.closeConns()
			session.Unlock()
			return nil, err
		}
		s.conns = append(s.conns, conn)
		if i == 0 {
			s.write = conn
		} else {
			s.reads <- conn
		}
	}
	if err := s.init(ctx, o); err != nil {
		s.closeConns()
		session.Unlock()
		return nil, err
	}
	if o.reg != nil {
		if err := registerMetrics(o.reg, s); err != nil {
			s.Close()
			return nil, fmt.Errorf("embedded: metrics: %w", err)
		}
	}
	return s, nil
}

// closeConns closes every connection, the write connection (which started
// the engine) last.
func (s *Store) closeConns() {
	for i := len(s.conns) - 1; i >= 0; i-- {
		s.conns[i].Close()
	}
	s.conns = nil
}

// connect starts the engine with the process's crash-signal handlers saved
// before and restored after, whatever the outcome.
func connect(dir string) (conn *libchdb.Conn, err error) {
	saved, err := saveSignalHandlers()
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := saved.restore(); rerr != nil && err == nil {
			conn.Close()
			conn, err = nil, rerr
		}
	}()
	conn, err = libchdb.Connect("--path=" + dir)
	if err != nil {
		return nil, fmt.Errorf("%w: connect %s: %w", ErrEngine, dir, err)
	}
	return conn, nil
}

func (s *Store) init(ctx context.Context, o options) error {
	e := engine{s}
	var version string
	if err := e.Query(ctx, "SELECT version()", []any{&version}, func() error { return nil }); err != nil {
		return err
	}
	s.version = version
	// The engine's database "default" stays untouched; sipscope lives in its own.
	cfg := storage.SchemaConfig{Database: storage.DefaultDatabase, Retention: o.retention, TableRetention: o.policy.TableRetention()}
	for _, stmt := range storage.Schema(version, cfg) {
		if err := e.exec(ctx, stmt); err != nil {
			return fmt.Errorf("embedded: create schema: %w", err)
		}
	}
	// Tables an older sipscope created in this directory gain the columns
	// added since.
	if _, err := storage.Migrate(ctx, e, e, version, cfg); err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	return nil
}

// ServerVersion is the engine's SELECT version().
func (s *Store) ServerVersion() string { return s.version }

// Write stores a batch; see storage.Write.
func (s *Store) Write(ctx context.Context, b storage.Batch) error {
	return storage.Write(ctx, engine{s}, storage.DefaultDatabase, b, &s.clock)
}

// EnforceRetention drops the partitions p no longer keeps; see
// storage.EnforceRetention.
func (s *Store) EnforceRetention(ctx context.Context, p storage.RetentionPolicy, now time.Time) (storage.RetentionResult, error) {
	return storage.EnforceRetention(ctx, engine{s}, engine{s}, storage.DefaultDatabase, "", p, now)
}

// ListCalls returns one page of calls; see storage.ListCalls.
func (s *Store) ListCalls(ctx context.Context, f storage.CallFilter) (storage.CallPage, error) {
	return storage.ListCalls(ctx, engine{s}, storage.DefaultDatabase, f)
}

// CountCalls counts the calls of f per state and final code; see
// storage.CountCalls.
func (s *Store) CountCalls(ctx context.Context, f storage.CallFilter) (storage.CallCounts, error) {
	return storage.CountCalls(ctx, engine{s}, storage.DefaultDatabase, f)
}

// CallMessages reads the SIP messages of several calls in capture
// order; see storage.CallMessages.
func (s *Store) CallMessages(ctx context.Context, callIDs []string, maxBytes int64) ([]correlate.Message, error) {
	return storage.CallMessages(ctx, engine{s}, storage.DefaultDatabase, callIDs, maxBytes)
}

// GetCall returns a call with its messages and streams, or an error
// wrapping storage.ErrNotFound.
func (s *Store) GetCall(ctx context.Context, callID string) (storage.CallDetail, error) {
	return storage.GetCall(ctx, engine{s}, storage.DefaultDatabase, callID)
}

// CallPackets returns the captured frames of the calls callIDs in
// capture order; see storage.CallPackets.
func (s *Store) CallPackets(ctx context.Context, callIDs []string) ([]storage.Packet, error) {
	return storage.CallPackets(ctx, engine{s}, storage.DefaultDatabase, callIDs)
}

// KPIs computes call and registration KPIs per time bucket; see
// storage.KPIs.
func (s *Store) KPIs(ctx context.Context, f storage.KPIFilter) ([]storage.KPIBucket, error) {
	return storage.KPIs(ctx, engine{s}, storage.DefaultDatabase, f)
}

// OpenCallMessages reads the messages of the calls not finished when last
// written; see storage.OpenCallMessages.
func (s *Store) OpenCallMessages(ctx context.Context, since time.Time, limit int, fn func(correlate.Message) error) error {
	return storage.OpenCallMessages(ctx, engine{s}, storage.DefaultDatabase, since, limit, fn)
}

// ListRegistrations returns one page of registrations; see storage.ListRegistrations.
func (s *Store) ListRegistrations(ctx context.Context, f storage.RegistrationFilter) (storage.RegistrationPage, error) {
	return storage.ListRegistrations(ctx, engine{s}, storage.DefaultDatabase, f)
}

// GetRegistration returns the exchanges and messages of one registration
// Call-ID, or an error wrapping storage.ErrNotFound.
func (s *Store) GetRegistration(ctx context.Context, callID string) (storage.RegistrationDetail, error) {
	return storage.GetRegistration(ctx, engine{s}, storage.DefaultDatabase, callID)
}

// ListStreams returns one page of RTP streams; see storage.ListStreams.
func (s *Store) ListStreams(ctx context.Context, f storage.StreamFilter) (storage.StreamPage, error) {
	return storage.ListStreams(ctx, engine{s}, storage.DefaultDatabase, f)
}

// PutUser creates or replaces a user; see storage.PutUser.
func (s *Store) PutUser(ctx context.Context, u storage.User) error {
	return storage.PutUser(ctx, engine{s}, storage.DefaultDatabase, u, &s.clock)
}

// DeleteUser removes a user; see storage.DeleteUser.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return storage.DeleteUser(ctx, engine{s}, engine{s}, storage.DefaultDatabase, name, &s.clock)
}

// GetUser reads a user, or an error wrapping storage.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (storage.User, error) {
	return storage.GetUser(ctx, engine{s}, storage.DefaultDatabase, name)
}

// ListUsers returns every user by name.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	return storage.ListUsers(ctx, engine{s}, storage.DefaultDatabase)
}

// PutToken stores a new API token; see storage.PutToken.
func (s *Store) PutToken(ctx context.Context, t storage.Token) error {
	return storage.PutToken(ctx, engine{s}, storage.DefaultDatabase, t, &s.clock)
}

// DeleteToken revokes a token; see storage.DeleteToken.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return storage.DeleteToken(ctx, engine{s}, engine{s}, storage.DefaultDatabase, id, &s.clock)
}

// GetToken reads a live token, or an error wrapping storage.ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id string) (storage.Token, error) {
	return storage.GetToken(ctx, engine{s}, storage.DefaultDatabase, id)
}

// ListTokens returns every live token, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]storage.Token, error) {
	return storage.ListTokens(ctx, engine{s}, storage.DefaultDatabase)
}

// Close ends the chDB session once the statements in progress are done;
// data is on disk. A later Open (of this or another directory) may follow.
// Close is idempotent.
func (s *Store) Close() error {
	s.gate.Lock()
	defer s.gate.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.closeConns()
	session.Unlock()
	return nil
}

// engine implements storage.Inserter and storage.Querier on the session,
// kept apart from Store so those methods are not part of Store's API.
type engine struct{ s *Store }

// Modern: chDB is a current ClickHouse engine (storage.Querier).
func (engine) Modern() bool { return true }

// run executes one statement on the write connection, after the writes
// before it, and hands its output, valid only during the call, to use.
func (e engine) run(ctx context.Context, query, format string, use func([]byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := e.s
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.lanes.writeStarted()
	defer s.lanes.writeDone()
	return execute(s.write, query, format, use)
}

// read executes one SELECT on a read connection, waiting for one to be
// free (or for ctx), never for a write.
func (e engine) read(ctx context.Context, query, format string, use func([]byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := e.s
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	w := s.lanes.readWaiting()
	var conn *libchdb.Conn
	select {
	case conn = <-s.reads:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { s.reads <- conn }()
	s.lanes.readRunning(w)
	defer s.lanes.readDone(w)
	return execute(conn, query, format, use)
}

func execute(conn *libchdb.Conn, query, format string, use func([]byte) error) error {
	res, err := conn.Query(query, format)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEngine, err)
	}
	defer res.Free()
	return use(res.Bytes())
}

func (e engine) exec(ctx context.Context, query string) error {
	return e.run(ctx, query, "CSV", func([]byte) error { return nil })
}

// Exec implements storage.Execer.
func (e engine) Exec(ctx context.Context, stmt string) error { return e.exec(ctx, stmt) }

// ExecMaintenance implements storage.MaintenanceExecer: a long statement
// (a retention round's OPTIMIZE) runs on a read connection, so that the
// writes, which share one connection, do not wait minutes for it.
func (e engine) ExecMaintenance(ctx context.Context, stmt string) error {
	return e.read(ctx, stmt, "CSV", func([]byte) error { return nil })
}

// Query implements storage.Querier with RowBinary output.
func (e engine) Query(ctx context.Context, query string, dest []any, row func() error) error {
	return e.read(ctx, query, "RowBinary", func(out []byte) error {
		r := storage.NewRowBinaryReader(out)
		for r.More() {
			if err := r.Row(dest); err != nil {
				return err
			}
			if err := row(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Insert implements storage.Inserter: one Native block into a temporary
// file, then INSERT ... FROM INFILE. A file because binary data inlined in
// the query text is cut short by chDB without an error; Native because the
// engine parses it in about half the CPU of RowBinary (native.go).
func (e engine) Insert(ctx context.Context, insert string, cols []storage.Column, rows [][]any) error {
	return e.insertNative(ctx, insert, func(f *os.File) error { return encodeNative(f, cols, rows) })
}

// InsertColumns implements storage.ColumnInserter as Insert does, from
// values given column by column.
func (e engine) InsertColumns(ctx context.Context, insert string, cols []storage.Column, values []any, rows int) error {
	return e.insertNative(ctx, insert, func(f *os.File) error { return encodeNativeColumns(f, cols, values, rows) })
}

// insertNative stages what encode writes in a file and inserts it.
//
// optimize_on_insert = 0: the engine does not collapse the rows of one
// insert that share a sort key (the ReplacingMergeTree merge applied to the
// new block), a copy of every column that cost about as much engine CPU as
// the rest of the insert (BenchmarkEngineInsertCeiling). Nothing depends
// on it: reads use FINAL or drop the copies themselves (readMessages), as
// they must for copies in different parts, and merges collapse them.
func (e engine) insertNative(ctx context.Context, insert string, encode func(*os.File) error) error {
	f, err := os.CreateTemp(e.s.insertDir, "rows-*.native")
	if err != nil {
		return fmt.Errorf("embedded: stage insert: %w", err)
	}
	path := f.Name()
	defer os.Remove(path)
	err = encode(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("embedded: stage insert: %w", err)
	}
	return e.exec(ctx, insert+" FROM INFILE "+storage.QuoteString(path)+" SETTINGS optimize_on_insert = 0 FORMAT Native")
}
