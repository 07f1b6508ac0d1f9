package stream

// LooksLikeTLS reports whether b starts with a TLS record header: content
// type change_cipher_spec, alert, handshake or application_data (20..23),
// record version 3.1 to 3.4 (TLS 1.0..1.3 on the wire) and a non-zero
// length within TLS 1.2's limit for a protected record (2^14 + 2048). SIP over TLS (port 5061) cannot be read passively; this
// lets the pipeline count it as encrypted instead of as garbage.
func LooksLikeTLS(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	if b[0] < 20 || b[0] > 23 || b[1] != 3 || b[2] < 1 || b[2] > 4 {
		return false
	}
	n := int(b[3])<<8 | int(b[4])
	return n > 0 && n <= 1<<14+2048
}
