// Package api is the read side of sipscope: a JSON HTTP API over the calls,
// registrations, SIP messages and RTP streams that storage holds, plus a PCAP
// export that re-synthesises a call's SIP messages as packets for Wireshark.
// It reads from storage only, through the small interfaces it declares, and
// can serve the embedded web UI handed to it by cmd, which talks to nothing
// but this API.
//
// Access is by role (viewer, operator, admin; see routeTable) for users and
// API tokens kept in the store: a session cookie with a CSRF header for the
// UI, bearer tokens for scripts. With no user defined the server runs open
// on a loopback address only, behind a Host check against DNS rebinding.
// The OpenAPI 3.1 document at /api/v1/openapi.json is generated from the
// same route table the server registers.
package api
