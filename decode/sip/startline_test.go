package sip

import "testing"

func TestLooksLikeSIP(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"an INVITE request line", "INVITE sip:bob@example.com SIP/2.0\r\n", true},
		{"an extension method", "PUBLISHX sip:bob@example.com SIP/2.0\r\n", true},
		{"a request line without line end yet", "BYE sip:a@b SIP/2.0", true},
		{"a status line", "SIP/2.0 200 OK\r\n", true},
		{"a status line with empty reason", "SIP/2.0 100 \r\n", true},
		{"a lower-case version", "sip/2.0 180 Ringing\r\n", true},
		{"an HTTP GET", "GET / HTTP/1.1\r\nHost: x\r\n", false},
		{"an HTTP response", "HTTP/1.1 200 OK\r\n", false},
		{"an RTSP request", "OPTIONS rtsp://example.com/media RTSP/1.0\r\n", false},
		{"a two-digit status", "SIP/2.0 20 OK\r\n", false},
		{"a status glued to its reason", "SIP/2.0 200OK\r\n", false},
		{"SIP 1.0", "INVITE sip:a@b SIP/1.0\r\n", false},
		{"leading CRLF", "\r\nINVITE sip:a@b SIP/2.0\r\n", false},
		{"junk before the method", "\x00INVITE sip:a@b SIP/2.0\r\n", false},
		{"a method with a space inside the URI", "INVITE sip:a@b; lr SIP/2.0\r\n", false},
		{"an empty input", "", false},
		{"a method only", "INVITE", false},
		{"binary RTP", "\x80\x00\x12\x34\x00\x00\x00\x01", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LooksLikeSIP([]byte(tt.in)); got != tt.want {
				t.Errorf("LooksLikeSIP(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
