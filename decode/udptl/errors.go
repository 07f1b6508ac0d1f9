package udptl

import "errors"

// Sentinel errors of Packet.Unmarshal, returned bare so decoding never
// allocates.
var (
	ErrTooShort    = errors.New("udptl: packet shorter than a sequence number and a length")
	ErrFragmented  = errors.New("udptl: fragmented IFP length (T.38 never sends one)")
	ErrIFPOverflow = errors.New("udptl: IFP packet runs past the datagram")
	ErrEmptyIFP    = errors.New("udptl: empty IFP packet")
)
