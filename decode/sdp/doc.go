// Package sdp decodes SDP session descriptions (RFC 8866, formerly 4566)
// carried in SIP bodies into a reusable Session view, without allocating.
// It belongs to the decode stage: correlate calls it on the SDP of INVITEs
// and their answers to learn where each call's RTP and RTCP will flow and
// with which codecs, so that quality can bind media streams to calls.
package sdp
