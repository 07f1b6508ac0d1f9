// Package bitflags formats the anomaly flag sets the decoders expose.
package bitflags

import "strings"

// String lists the names of the bits set in f, separated by '|'. It
// allocates: for logs and tests, not the per-packet path.
func String[F ~uint8 | ~uint16 | ~uint32](f F, name func(F) string) string {
	var sb strings.Builder
	for bit := F(1); bit != 0; bit <<= 1 {
		if f&bit != 0 {
			if sb.Len() > 0 {
				sb.WriteByte('|')
			}
			sb.WriteString(name(bit))
		}
	}
	return sb.String()
}
