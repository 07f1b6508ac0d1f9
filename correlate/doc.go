// Package correlate is the stage after decode: it follows SIP transactions
// and dialogs, turns single messages into calls (with end reasons, timings
// and B2BUA leg links) and registrations, and learns from SDP which media
// endpoints belong to which call and side so quality can bind RTP to a
// direction. It is the only stage that copies packet bytes (what must
// outlive the frame) and the only one that decides what a call is; its
// memory is bounded by timers and a dialog limit.
package correlate
