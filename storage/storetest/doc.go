// Package storetest is the conformance suite every sipscope store runs:
// storage/embedded against the real chDB engine and storage/server against a
// real ClickHouse server. Both backends share one schema and one set of SQL
// statements, and this suite checks that they also behave the same from the
// outside: round trips after a restart, every filter, paging, replacement of
// records by later writes, and hostile strings.
package storetest
