// Package embedded is sipscope's default store: the ClickHouse engine of
// chDB running inside the process, keeping its data in one directory. It is
// the single-box end of the pipeline's storage stage; the schema, the SQL
// and the row encoding come from package storage, shared with the server
// backend, so this package only moves bytes in and out of chDB.
//
// The engine is reached through storage/embedded/libchdb, which opens
// libchdb.so (CHDB_LIB_PATH, else /usr/local/lib/libchdb.so) on the first
// Open rather than in a package init as chdb-go does (whose init panics when
// the library is missing). Importing this package is therefore harmless on a
// machine without the library; Open then fails with an error wrapping
// libchdb.ErrLibrary.
//
// Things chDB does that shape this package:
//   - One process can hold the engine on one data directory at a time, but
//     any number of connections to it, whose statements run in parallel.
//     Open returns ErrSessionInUse while another Store is open; Open after
//     Close works, also on another directory. A Store holds one connection
//     for writes and a few for reads (WithReadConns), so a list request
//     never waits for an insert (issue #15; LaneStats shows it).
//   - Connecting installs the engine's own handlers for SIGSEGV, SIGBUS,
//     SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS (and SIGTSTP), after which a Go
//     nil dereference hangs instead of panicking. Open saves these handlers
//     with raw rt_sigaction before connecting and puts them back afterwards.
//     The engine's SIGRTMIN handler (thread stack collection) is left alone.
//     This is implemented for linux/amd64 and linux/arm64 (the kernel's
//     struct sigaction layout); elsewhere Open refuses with ErrSignals.
//   - Data inlined into the query text in RowBinary is silently cut, and the
//     C API takes the query as a NUL-terminated string. Inserts therefore
//     write one Native block (native.go) to a temporary file under the data
//     directory and run INSERT ... FROM INFILE; filter values are escaped by
//     storage.QuoteString into printable ASCII.
//   - Statements on one connection are not meant to run concurrently: writes
//     are serialised on theirs, and a read takes a read connection of its
//     own for the statement. Statements cannot be cancelled: the context is
//     checked before each one (and while a read waits for a connection).
package embedded
