package sdp

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"

	"github.com/sipscope/sipscope/decode/sip"
)

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

func checkSlicesWithin(t *testing.T, path string, v reflect.Value, b []byte) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				checkSlicesWithin(t, path+"."+v.Type().Field(i).Name, v.Field(i), b)
			}
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

// endpointsOnly is what UnmarshalEndpoints should leave of a Session that
// Unmarshal filled: everything but what describes the payload.
func endpointsOnly(s Session, flags Flags) Session {
	s.Origin = Origin{}
	for i := range s.NumMedia {
		m := &s.Media[i]
		m.Formats, m.NumFormats = [MaxFormats]uint8{}, 0
		m.RTPMaps, m.NumRTPMaps = [MaxRTPMaps]RTPMap{}, 0
		m.FMTPs, m.NumFMTPs = [MaxFMTPs]FMTP{}, 0
		m.Ptime, m.MaxPtime = 0, 0
	}
	s.Flags = flags
	return s
}

// checkEndpoints checks UnmarshalEndpoints against Unmarshal's result s
// (error err) for the same input: the same error, the same endpoints,
// nothing of the payload, and no flag Unmarshal did not raise.
func checkEndpoints(t *testing.T, e *Session, b []byte, s Session, err error) {
	t.Helper()
	errE := e.UnmarshalEndpoints(b)
	if (errE == nil) != (err == nil) || errE != nil && errE.Error() != err.Error() {
		t.Fatalf("UnmarshalEndpoints error %v, Unmarshal error %v", errE, err)
	}
	if e.Flags&^s.Flags != 0 || e.Flags&FlagBadLine != s.Flags&FlagBadLine {
		t.Fatalf("UnmarshalEndpoints flags %v, Unmarshal flags %v", e.Flags, s.Flags)
	}
	if want := endpointsOnly(s, e.Flags); !reflect.DeepEqual(*e, want) {
		t.Fatalf("UnmarshalEndpoints gave\n%+v\nwant\n%+v", *e, want)
	}
}

// FuzzUnmarshal checks that no input panics the parser, that every slice
// it returns lies inside the input, that counts stay within capacity, that
// a reused Session equals a fresh one, and that UnmarshalEndpoints agrees
// with Unmarshal on everything it promises.
func FuzzUnmarshal(f *testing.F) {
	f.Add(crlf(offer))
	f.Add([]byte("v=0\nc=IN IP6 ff15::101/3\nm=audio 5004/2 RTP/AVP 0 96\na=rtpmap:96 opus/48000/2\na=rtcp:5007 IN IP6 ::1\na=rtcp-mux\na=ptime:0.5"))
	f.Add([]byte("v=0\nc=IN IP4 224.2.1.1/127/3\nm=image 0 udptl t38\na=sendonly"))
	// SDP bodies of the RFC 4475 torture messages.
	files, _ := filepath.Glob("../../testdata/torture/*.dat")
	if len(files) == 0 {
		f.Fatal("no torture messages for seeds")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var m sip.Message
		if m.Unmarshal(b) == nil && len(m.Body) > 0 {
			f.Add(append([]byte(nil), m.Body...))
		}
	}
	var reused, reusedEndpoints Session
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Session
		err := s.Unmarshal(b)
		checkSlicesWithin(t, "Session", reflect.ValueOf(s), b)
		if errR := reused.Unmarshal(b); (errR == nil) != (err == nil) || !reflect.DeepEqual(s, reused) {
			t.Fatalf("reused Session differs from a fresh one (err %v vs %v)", errR, err)
		}
		var e Session
		checkEndpoints(t, &e, b, s, err)
		checkEndpoints(t, &reusedEndpoints, b, s, err)
		if s.NumMedia > MaxMedia || s.NumMedia > s.MediaCount {
			t.Fatalf("NumMedia %d MediaCount %d", s.NumMedia, s.MediaCount)
		}
		for i := range s.NumMedia {
			m := &s.Media[i]
			if m.NumFormats > MaxFormats || m.NumRTPMaps > MaxRTPMaps || m.NumFMTPs > MaxFMTPs {
				t.Fatalf("media %d over capacity: %d %d %d", i, m.NumFormats, m.NumRTPMaps, m.NumFMTPs)
			}
			for j := range m.NumFormats {
				pt := m.Formats[j]
				if pt > 127 || !within(m.FormatParams(pt), b) {
					t.Fatalf("format %d", pt)
				}
				_ = m.ClockRate(pt)
				_ = m.EncodingName(pt)
			}
			_ = s.RTCPAddr(i)
			_ = s.OnHold(i)
		}
	})
}
