package sip

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"
)

// within reports whether s is empty or lies inside b.
func within(s, b []byte) bool {
	if len(s) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(b))
}

// checkSlicesWithin walks every []byte reachable in v (struct fields,
// arrays) and reports those that point outside b.
func checkSlicesWithin(t *testing.T, path string, v reflect.Value, b []byte) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			checkSlicesWithin(t, path+"."+v.Type().Field(i).Name, v.Field(i), b)
		}
	case reflect.Array:
		for i := range v.Len() {
			checkSlicesWithin(t, path, v.Index(i), b)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if s := v.Bytes(); !within(s, b) {
				t.Fatalf("%s = %q points outside the input", path, s)
			}
		}
	}
}

func addSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(tortureDir, "*.dat"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no torture seeds in %s: %v", tortureDir, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, capture := range []string{"sngrep__aaa.pcap", "heplify__sip_ipv4_tcp.pcap", "heplify__sip_ipv6_udp.pcap"} {
		for _, b := range sipMessages(f, filepath.Join(capturesDir, capture)) {
			f.Add(b)
		}
	}
	f.Add(typicalInvite())
	f.Add(typicalOK())
	f.Add([]byte("\x00\x01junk SIP/2.0 200 OK\r\nVia: a\r\n\r\n"))
	f.Add([]byte("A sip:x SIP/2.0\nf:\"\\\n t:<\nv:,,\n"))
	f.Add(crlf("MESSAGE sip:a@b SIP/2.0\nContent-Type: multipart/mixed;boundary=b\nl: 30\n\n--b\nc: application/sdp\n\nv=0\n--b--"))
}

// FuzzUnmarshal checks that no input panics the parser, that every slice
// it returns lies inside the input, that a reused Message equals a fresh
// one, and that FrameLength, LooksLikeSIP and the value helpers agree with
// Unmarshal where their contracts overlap.
func FuzzUnmarshal(f *testing.F) {
	addSeeds(f)
	var reused Message
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		err := m.Unmarshal(b)
		checkSlicesWithin(t, "Message", reflect.ValueOf(m), b)
		if errReused := reused.Unmarshal(b); (errReused == nil) != (err == nil) || !reflect.DeepEqual(m, reused) {
			t.Fatalf("reused Message differs from a fresh one (err %v vs %v)", errReused, err)
		}
		if LooksLikeSIP(b) && errors.Is(err, ErrNotSIP) {
			t.Fatalf("LooksLikeSIP is true but Unmarshal says %v", err)
		}
		if err == nil {
			if len(m.CallID) == 0 || m.ViaCount == 0 || m.From == nil || m.To == nil {
				t.Fatalf("accepted without mandatory headers: %+v", m)
			}
			if len(m.Raw) < len(m.Body) || !within(m.Body, m.Raw) {
				t.Fatal("Body is not inside Raw")
			}
			if m.ContentLength >= 0 && len(m.Body) != m.ContentLength {
				t.Fatalf("len(Body) = %d, Content-Length %d", len(m.Body), m.ContentLength)
			}
			if m.NumHeaders > HeaderCapacity || m.NumHeaders > m.HeaderCount {
				t.Fatalf("NumHeaders %d, HeaderCount %d", m.NumHeaders, m.HeaderCount)
			}
			sdp := m.SDP()
			if !within(sdp, m.Body) {
				t.Fatal("SDP() is not inside Body")
			}
			for rest := m.Contact; len(rest) > 0; {
				var v []byte
				v, rest = NextValue(rest)
				var a Address
				if a.Unmarshal(v) == nil {
					checkSlicesWithin(t, "Address", reflect.ValueOf(a), b)
					if p := Param(a.Params, "expires"); !within(p, b) {
						t.Fatal("Param outside input")
					}
				}
			}
		}
		n, ferr := FrameLength(b)
		switch {
		case ferr == nil:
			if n <= 0 || n > len(b) {
				t.Fatalf("FrameLength = %d for %d bytes", n, len(b))
			}
			// A frame that parses without junk is exactly one message.
			var fm Message
			if fm.Unmarshal(b[:n]) == nil && !fm.Flags.Has(FlagJunkBeforeStartLine) && len(fm.Raw) != n {
				t.Fatalf("FrameLength = %d but the message in it is %d bytes", n, len(fm.Raw))
			}
		case errors.Is(ferr, ErrKeepAlive):
			if n <= 0 || n > len(b) {
				t.Fatalf("FrameLength keep-alive = %d for %d bytes", n, len(b))
			}
		case errors.Is(ferr, ErrIncomplete):
			if n != 0 && n <= len(b) {
				t.Fatalf("FrameLength incomplete but n = %d <= %d", n, len(b))
			}
		}
	})
}
