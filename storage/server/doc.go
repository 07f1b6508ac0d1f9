// Package server is the storage stage for many boxes: it writes to and reads
// from a ClickHouse server, or a cluster of them, over the native protocol
// with clickhouse-go/v2. Schema, SQL and row layout come from package
// storage, shared with the embedded (chDB) backend, so both answer the same
// queries the same way.
//
// It works with servers as old as ClickHouse 18.16 (Debian's package): the
// schema is chosen by SELECT version(), inserts are native batches with an
// explicit column list, and no server-side query parameters are used.
// With Config.Cluster set the schema is created ON CLUSTER as
// Replicated*MergeTree tables behind Distributed tables; inserts into a
// Distributed table are forwarded to the shards asynchronously. Columns a
// newer sipscope added are added at Open (storage.Migrate), in cluster mode
// ON CLUSTER to the local tables and then to the Distributed ones.
package server
