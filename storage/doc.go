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
//
// A stream's MOS timeline and DTMF events are stored as parallel Array
// columns (timeline_*, dtmf_*; element i of each is interval or event i)
// rather than as JSON text: ClickHouse 18.16 has no Map or JSON type and
// cannot take a JSON array of objects apart, while arrays are queryable on
// every version (arrayMin(timeline_mos) < 3.1, has(dtmf_digit, '#')).
//
// The schema has revisions (SchemaRevision); each column records the one
// that added it. Both backends run Schema and then Migrate at every start,
// so tables an older sipscope created gain the columns added since and an
// upgrade needs no manual step.
package storage
