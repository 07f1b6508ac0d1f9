package sip

import "bytes"

// SDP returns the session description the message carries: the body when
// Content-Type is application/sdp, or the first application/sdp part of a
// multipart body (SIP-I/SIP-T carry SDP next to ISUP). It returns nil when
// there is none. It does not allocate.
func (m *Message) SDP() []byte {
	return BodyPart(m.ContentType, m.Body, "application/sdp")
}

// BodyPart returns the part of body whose media type is want (any case,
// e.g. "application/sdp"): body itself when contentType is want, or the
// first matching part of a multipart/* body (one level, RFC 2046 §5.1).
func BodyPart(contentType, body []byte, want string) []byte {
	mt, params := splitMediaType(contentType)
	if equalFold(mt, want) {
		return body
	}
	if !hasPrefixFold(mt, "multipart/") {
		return nil
	}
	boundary := Param(params, "boundary")
	if len(boundary) >= 2 && boundary[0] == '"' && boundary[len(boundary)-1] == '"' {
		boundary = boundary[1 : len(boundary)-1]
	}
	if len(boundary) == 0 {
		return nil
	}
	return multipartPart(body, boundary, want)
}

// splitMediaType splits "type/subtype;params" into the trimmed media type
// and the parameter list starting at ';'.
func splitMediaType(ct []byte) (mediaType, params []byte) {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		return trimLWS(ct[:i]), ct[i:]
	}
	return trimLWS(ct), nil
}

func multipartPart(body, boundary []byte, want string) []byte {
	partStart := -1
	for pos := 0; pos < len(body); {
		i := bytes.Index(body[pos:], boundary)
		if i < 0 {
			return nil
		}
		d := pos + i
		// A delimiter is "--boundary" at the start of a line.
		if d < 2 || body[d-2] != '-' || body[d-1] != '-' || (d > 2 && body[d-3] != '\n') {
			pos = d + 1
			continue
		}
		if partStart >= 0 {
			end := d - 2
			// The line break before the delimiter belongs to it.
			if end > partStart && body[end-1] == '\n' {
				end--
				if end > partStart && body[end-1] == '\r' {
					end--
				}
			}
			if end >= partStart {
				if content, ok := partContent(body[partStart:end], want); ok {
					return content
				}
			}
		}
		after := d + len(boundary)
		if bytes.HasPrefix(body[after:], []byte("--")) {
			return nil
		}
		nl := bytes.IndexByte(body[after:], '\n')
		if nl < 0 {
			return nil
		}
		partStart = after + nl + 1
		pos = partStart
	}
	return nil
}

// partContent returns the content of a body part if its Content-Type is
// want.
func partContent(part []byte, want string) ([]byte, bool) {
	r := headerReader{b: part}
	match := false
	for {
		id, _, value, end, err := r.next()
		if err != nil {
			return nil, false
		}
		if end {
			break
		}
		if id == hContentType {
			mt, _ := splitMediaType(value)
			match = equalFold(mt, want)
		}
	}
	if !match {
		return nil, false
	}
	return part[r.off:], true
}
