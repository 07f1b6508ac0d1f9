package sip

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestFrameLength(t *testing.T) {
	invite, ok := typicalInvite(), typicalOK()
	tests := []struct {
		name    string
		in      []byte
		wantN   int
		wantErr error
	}{
		{"one whole message is one frame", invite, len(invite), nil},
		{"two back-to-back messages give the first", append(append([]byte{}, ok...), invite...), len(ok), nil},
		{"a message whose body has not fully arrived needs the announced length", invite[:len(invite)-5], len(invite), ErrIncomplete},
		{"a message cut in its headers is incomplete with unknown length", invite[:100], 0, ErrIncomplete},
		{"a message cut after a header line is incomplete", invite[:bytes.Index(invite, []byte("\r\n"))+2], 0, ErrIncomplete},
		{"a message cut in the start line is incomplete", invite[:10], 0, ErrIncomplete},
		{"nothing is incomplete", nil, 0, ErrIncomplete},
		{"CRLF keep-alives come back on their own", append([]byte("\r\n\r\n"), ok...), 4, ErrKeepAlive},
		{"a missing Content-Length means no body on a stream", crlf("OPTIONS sip:a@b SIP/2.0\nVia: x\n\nOPTIONS"), len(crlf("OPTIONS sip:a@b SIP/2.0\nVia: x\n\n")), nil},
		{"the compact form of Content-Length counts", crlf("MESSAGE sip:a@b SIP/2.0\nl: 2\n\nhiNEXT"), len(crlf("MESSAGE sip:a@b SIP/2.0\nl: 2\n\nhi")), nil},
		{"bare LF framing is accepted", []byte("MESSAGE sip:a@b SIP/2.0\nContent-Length: 1\n\nxy"), len("MESSAGE sip:a@b SIP/2.0\nContent-Length: 1\n\nx"), nil},
		{"a bad Content-Length cannot be framed", crlf("MESSAGE sip:a@b SIP/2.0\nContent-Length: 1x\n\n"), 0, ErrBadContentLength},
		{"conflicting Content-Lengths cannot be framed", crlf("MESSAGE sip:a@b SIP/2.0\nContent-Length: 1\nl: 2\n\nxx"), 0, ErrBadContentLength},
		{"a Content-Length above MaxBodyBytes is refused", crlf("MESSAGE sip:a@b SIP/2.0\nContent-Length: 99999999\n\n"), 0, ErrBadContentLength},
		{"an endless header section is refused once over the limit", append(crlf("MESSAGE sip:a@b SIP/2.0\n"), bytes.Repeat([]byte("X-A: "+strings.Repeat("b", 200)+"\r\n"), MaxHeaderBytes/200)...), 0, ErrHeaderTooLong},
		{"an endless line is refused once over the limit", []byte("MESSAGE sip:a@b SIP/2.0\r\nX: " + strings.Repeat("a", MaxLineBytes+1)), 0, ErrLineTooLong},
		{"an endless start line is refused once over the limit", bytes.Repeat([]byte("a"), MaxLineBytes+1), 0, ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := FrameLength(tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
		})
	}
}

// Feeding a stream one byte at a time must yield exactly the messages
// that were written, whatever the segment boundaries.
func TestFrameLengthCutsAStreamIntoItsMessages(t *testing.T) {
	msgs := [][]byte{typicalInvite(), typicalOK(), []byte("\r\n\r\n"), typicalInvite()}
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
	}
	var got [][]byte
	var buf []byte
	for _, c := range stream {
		buf = append(buf, c)
		for {
			n, err := FrameLength(buf)
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if errors.Is(err, ErrKeepAlive) {
				buf = buf[n:]
				continue
			}
			if err != nil {
				t.Fatalf("FrameLength: %v", err)
			}
			got = append(got, append([]byte(nil), buf[:n]...))
			buf = buf[n:]
		}
	}
	if len(got) != 3 || !bytes.Equal(got[0], msgs[0]) || !bytes.Equal(got[1], msgs[1]) || !bytes.Equal(got[2], msgs[3]) {
		t.Fatalf("got %d frames: %q", len(got), got)
	}
	var m Message
	for _, f := range got {
		if err := m.Unmarshal(f); err != nil || !bytes.Equal(m.Raw, f) {
			t.Errorf("frame does not parse as a whole message: %v", err)
		}
	}
}

func TestFrameLengthDoesNotAllocate(t *testing.T) {
	in := typicalInvite()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := FrameLength(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}
