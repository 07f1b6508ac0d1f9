package sip

import (
	"errors"
	"testing"
)

func TestAddressUnmarshal(t *testing.T) {
	tests := []struct {
		name                       string
		in                         string
		display, uri, user, params string
		lax                        bool
	}{
		{"a name-addr with quoted display name", `"Bob" <sip:bob@example.com>;tag=1`, "Bob", "sip:bob@example.com", "bob", ";tag=1", false},
		{"an unquoted display name of several words", `Bob Smith <sip:bob@example.com>`, "Bob Smith", "sip:bob@example.com", "bob", "", false},
		{"no display name", `<sips:+4930@example.com;user=phone>;tag=x;foo`, "", "sips:+4930@example.com;user=phone", "+4930", ";tag=x;foo", false},
		{"a bare addr-spec stops at the semicolon", `sip:bob@example.com;tag=2`, "", "sip:bob@example.com", "bob", ";tag=2", false},
		{"a bare addr-spec stops at white space", "sip:bob@example.com \r\n ;tag=3", "", "sip:bob@example.com", "bob", ";tag=3", false},
		{"a quoted name with escaped quote and angle bracket", `"a \"<b>\" c"<sip:x@y>`, `a \"<b>\" c`, "sip:x@y", "x", "", false},
		{"a password is not part of the user", `<sip:alice:secret@example.com>`, "", "sip:alice:secret@example.com", "alice", "", false},
		{"a URI without user", `<sip:example.com>`, "", "sip:example.com", "", "", false},
		{"a tel URI gives its number", `<tel:+1-201-555-0123;ext=1>`, "", "tel:+1-201-555-0123;ext=1", "+1-201-555-0123", "", false},
		{"spaces inside the brackets are trimmed and flagged", `< sip:a@b >`, "", "sip:a@b", "a", "", true},
		{"an unknown scheme has no user", `<urn:service:sos>`, "", "urn:service:sos", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Address
			if err := a.Unmarshal([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			eq(t, "Display", a.Display, tt.display)
			eq(t, "URI", a.URI, tt.uri)
			eq(t, "User", a.User, tt.user)
			eq(t, "Params", a.Params, tt.params)
			if a.Lax != tt.lax {
				t.Errorf("Lax = %v", a.Lax)
			}
		})
	}
	for _, bad := range []string{``, `"unterminated <sip:a@b>`, `<sip:a@b`, `"name" sip:a@b`} {
		var a Address
		if err := a.Unmarshal([]byte(bad)); !errors.Is(err, ErrBadHeader) {
			t.Errorf("Unmarshal(%q) = %v, want ErrBadHeader", bad, err)
		}
	}
}

func TestParam(t *testing.T) {
	params := []byte(`;tag=abc ; LR;branch = z9hG4bK-1;text="a;b,c";maddr=[2001:db8::1];x=1,next;tag=no`)
	tests := []struct {
		name, want string
		absent     bool
	}{
		{name: "tag", want: "abc"},
		{name: "TAG", want: "abc"},
		{name: "lr", want: ""},
		{name: "branch", want: "z9hG4bK-1"},
		{name: "text", want: `"a;b,c"`},
		{name: "maddr", want: "[2001:db8::1]"},
		{name: "x", want: "1"},
		{name: "next", absent: true},
		{name: "nope", absent: true},
	}
	for _, tt := range tests {
		got := Param(params, tt.name)
		if tt.absent {
			if got != nil {
				t.Errorf("Param(%q) = %q, want nil", tt.name, got)
			}
			continue
		}
		if got == nil || string(got) != tt.want {
			t.Errorf("Param(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestNextValueSplitsOnlyTopLevelCommas(t *testing.T) {
	in := []byte(`"Doe, John" <sip:j@x;a=1,2>;q=0.5 , <sip:b@y>,sip:c@z,,`)
	want := []string{`"Doe, John" <sip:j@x;a=1,2>;q=0.5`, `<sip:b@y>`, `sip:c@z`, ``, ``}
	var got []string
	for rest := in; len(rest) > 0; {
		var v []byte
		v, rest = NextValue(rest)
		got = append(got, string(v))
	}
	if len(got) != len(want)-1 {
		// The final empty element after the last comma has no rest to loop on.
		t.Fatalf("got %q", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("value %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestBodyPartFindsSDPInAMultipartBody(t *testing.T) {
	body := crlf(`--unique-boundary-1
Content-Type: application/ISUP;version=itu-t92+
Content-Disposition: signal;handling=optional

` + "\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\x06\x0d\x03\x80\x90\xa2\x07\x03\x10\x03\x63\x53\x00" + `
--unique-boundary-1
content-type:   Application/SDP  

v=0
o=- 1 1 IN IP4 192.0.2.1
--unique-boundary-1--
`)
	ct := []byte(`multipart/mixed; boundary="unique-boundary-1"`)
	eq(t, "SDP part", BodyPart(ct, body, "application/sdp"), "v=0\r\no=- 1 1 IN IP4 192.0.2.1")
	if p := BodyPart(ct, body, "text/plain"); p != nil {
		t.Errorf("text/plain part = %q, want nil", p)
	}
	eq(t, "single part", BodyPart([]byte("application/sdp;charset=x"), []byte("v=0"), "application/sdp"), "v=0")
	if p := BodyPart([]byte("multipart/mixed"), body, "application/sdp"); p != nil {
		t.Errorf("multipart without boundary gave %q", p)
	}
}
