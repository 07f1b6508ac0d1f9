// Package hep decodes and encodes the Homer Encapsulation Protocol (HEP, also
// called EEP), versions 1, 2 and 3: the envelope in which SIP servers and
// capture agents forward a captured message together with its addresses,
// ports and timestamp to a collector such as sipscope.
//
// It is a leaf of the pipeline: decode unwraps with it the frames that the HEP listener
// of package capture receives: Unmarshal fills a caller-owned Packet whose
// slices point into the frame, without allocating, and FrameLength splits
// HEPv3 streams received over TCP. Marshal and friends emit HEPv3, which edge
// nodes use to forward what they captured to a central collector.
//
// The package imports nothing from sipscope, so both capture (for framing)
// and decode (for unwrapping) can use it.
package hep
