// Package hepjson reads the JSON payloads HEP agents send about media, so
// that a collector that never sees RTP still learns what an edge measured:
// RTP agent reports (HEP type 34, as hepsend and Homer's RTP agents write
// them) and heplify's RTCP (HEP type 5), which it turns back into binary
// RTCP for the pipeline's RTCP tracker. Like the other decoders it fills a
// caller-owned struct and allocates nothing per report once warmed up.
package hepjson
