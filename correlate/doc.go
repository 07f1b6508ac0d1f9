// Package correlate is the stage after decode: it turns single SIP messages
// into calls (INVITE dialogs) and registrations, and learns from SDP which
// media endpoints belong to which call so RTP can be bound to it. It is the
// only stage that copies packet bytes (what must outlive the frame) and the
// only one that decides what a call is.
package correlate
