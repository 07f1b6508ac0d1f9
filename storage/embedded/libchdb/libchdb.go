// Package libchdb loads the chDB engine (libchdb.so, ClickHouse as a
// library) on first use and calls its C API without cgo.
//
// chdb-go does the same, but it opens the library in a package init and
// panics when the file is missing. sipscope is one binary whose analyze
// command must start in milliseconds on a machine without libchdb.so, so
// the library may only be opened by the commands that use the store. This
// package binds the few functions the store needs and opens the library
// lazily, returning an error instead of panicking.
package libchdb

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ErrLibrary is wrapped when libchdb.so cannot be found or opened.
var ErrLibrary = errors.New("libchdb: cannot load the chDB engine")

// ErrConnect is wrapped when the engine refuses a connection.
var ErrConnect = errors.New("libchdb: connect failed")

// DefaultPath is where `make libchdb` installs the library.
const DefaultPath = "/usr/local/lib/libchdb.so"

// Path returns the library that Load opens: $CHDB_LIB_PATH, else DefaultPath.
func Path() string {
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return p
	}
	return DefaultPath
}

// api holds the bound C functions. The engine is process-wide by nature
// (one dlopen, one data directory at a time), so it is loaded once.
type api struct {
	connect       func(argc int32, argv **byte) unsafe.Pointer
	closeConn     func(conn unsafe.Pointer)
	query         func(conn unsafe.Pointer, query, format *byte) unsafe.Pointer
	destroyResult func(res unsafe.Pointer)
	resultBuffer  func(res unsafe.Pointer) unsafe.Pointer
	resultLength  func(res unsafe.Pointer) uintptr
	resultError   func(res unsafe.Pointer) unsafe.Pointer
}

var (
	loadOnce sync.Once
	loaded   *api
	loadErr  error
)

// Load opens the library (once per process) and binds its functions.
func Load() error {
	loadOnce.Do(func() {
		path := Path()
		if _, err := os.Stat(path); err != nil {
			loadErr = fmt.Errorf("%w: %w (install it with `make libchdb` or set CHDB_LIB_PATH)", ErrLibrary, err)
			return
		}
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			loadErr = fmt.Errorf("%w: %s: %w", ErrLibrary, path, err)
			return
		}
		a := &api{}
		for _, b := range []struct {
			fn   any
			name string
		}{
			{&a.connect, "chdb_connect"},
			{&a.closeConn, "chdb_close_conn"},
			{&a.query, "chdb_query"},
			{&a.destroyResult, "chdb_destroy_query_result"},
			{&a.resultBuffer, "chdb_result_buffer"},
			{&a.resultLength, "chdb_result_length"},
			{&a.resultError, "chdb_result_error"},
		} {
			sym, err := purego.Dlsym(h, b.name)
			if err != nil {
				loadErr = fmt.Errorf("%w: %s lacks %s: %w", ErrLibrary, path, b.name, err)
				return
			}
			purego.RegisterFunc(b.fn, sym)
		}
		loaded = a
	})
	return loadErr
}

// Conn is one engine connection. A process may hold several, all on the
// data directory the first one started the engine on; their statements
// run in parallel. A Conn itself is not safe for concurrent use.
type Conn struct {
	a    *api
	conn unsafe.Pointer // chdb_connection* as returned by chdb_connect
}

// Connect loads the library if needed and opens a connection with
// clickhouse-local style arguments, e.g. "--path=/var/lib/sipscope".
func Connect(args ...string) (*Conn, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	argv := make([]*byte, 0, len(args)+2)
	argv = append(argv, cString("clickhouse"))
	for _, a := range args {
		argv = append(argv, cString(a))
	}
	argv = append(argv, nil)
	p := loaded.connect(int32(len(argv)-1), &argv[0])
	if p == nil || *(*unsafe.Pointer)(p) == nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, args)
	}
	return &Conn{a: loaded, conn: p}, nil
}

// Query runs one statement and returns its output in the given format
// ("RowBinary", "CSV", ...). The engine's error message becomes the error.
// The query text must not contain NUL bytes: C strings end there, so the
// statement would be silently cut (send binary data through a file).
func (c *Conn) Query(query, format string) (*Result, error) {
	if c.conn == nil {
		return nil, fmt.Errorf("%w: connection closed", ErrConnect)
	}
	for i := 0; i < len(query); i++ {
		if query[i] == 0 {
			return nil, fmt.Errorf("libchdb: query contains a NUL byte at %d", i)
		}
	}
	q, f := cString(query), cString(format)
	res := c.a.query(*(*unsafe.Pointer)(c.conn), q, f)
	if res == nil {
		return &Result{}, nil
	}
	r := &Result{a: c.a, res: res}
	if msg := goString(c.a.resultError(res)); msg != "" {
		r.Free()
		return nil, errors.New(msg)
	}
	return r, nil
}

// Close ends the connection; data stays in its path.
func (c *Conn) Close() {
	if c.conn != nil {
		c.a.closeConn(c.conn)
		c.conn = nil
	}
}

// Result is a query's output, owned by the engine until Free.
type Result struct {
	a   *api
	res unsafe.Pointer
}

// Bytes returns the output; it is valid until Free.
func (r *Result) Bytes() []byte {
	if r.res == nil {
		return nil
	}
	p := r.a.resultBuffer(r.res)
	n := r.a.resultLength(r.res)
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// Free releases the output.
func (r *Result) Free() {
	if r.res != nil {
		r.a.destroyResult(r.res)
		r.res = nil
	}
}

// cString copies s into a NUL-terminated buffer the C side can read.
func cString(s string) *byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return &b[0]
}

// goString copies a NUL-terminated C string.
func goString(p unsafe.Pointer) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(p), n))
}
