// Package storage is the last stage before the api: it turns correlated
// calls, registrations, SIP messages and RTP stream statistics into rows of
// one ClickHouse schema and reads them back for listing and call detail.
//
// The package holds everything both backends share, so they cannot drift
// apart: the DDL (gated on the server version, optionally for a cluster), the
// column lists and row encoding, the SELECT statements and their decoding,
// and the quoting of filter values (chDB has no parameter binding and
// ClickHouse 18.16 has no server-side parameters, so literals are escaped
// here, in one tested place). The backends, storage/embedded (chDB, the
// default) and storage/server (clickhouse-go/v2), only move bytes: they
// implement Inserter and Querier.
//
// Calls, registrations and streams are written again as they progress; each
// write carries a version from a VersionClock and the tables are
// ReplacingMergeTree(version), read with FINAL, so the latest write wins.
package storage
