// Package alert is a rule engine over the correlated stream: it sits beside
// storage, after correlate and quality, and watches SIP messages, call
// records and registration records for incidents (registration storms,
// scanners, brute force, floods, failure spikes, bad audio). It runs on
// capture time, taken from the events themselves, so a capture file and
// live traffic raise the same alerts; every table keyed by wire data is
// capped and counts what it evicts.
package alert
