package sdp

import (
	"net/netip"
	"strings"
	"testing"
)

// checkIPAgainstNetip compares the allocation-free parsers with
// netip.ParseAddr, the reference, on one input.
func checkIPAgainstNetip(t *testing.T, s string) {
	t.Helper()
	ref, err := netip.ParseAddr(s)
	if strings.Contains(s, "%") {
		return // zones are refused on purpose
	}
	want4 := err == nil && ref.Is4()
	want6 := err == nil && ref.Is6()
	got4, ok4 := parseIPv4([]byte(s))
	got6, ok6 := parseIPv6([]byte(s))
	if ok4 != want4 || (ok4 && got4 != ref) {
		t.Errorf("parseIPv4(%q) = %v, %v; netip says %v, %v", s, got4, ok4, ref, err)
	}
	if ok6 != want6 || (ok6 && got6 != ref) {
		t.Errorf("parseIPv6(%q) = %v, %v; netip says %v, %v", s, got6, ok6, ref, err)
	}
}

func TestIPParsersAgreeWithNetip(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "1.2.3.4", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", ".1.2.3", "1.2.3.",
		"1.2.3.4a", "", "::", "::1", "1::", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "::1:2:3:4:5:6:7:8", "1::2::3", ":1::", "1:", ":::", "12345::", "0000:0::1",
		"::ffff:192.0.2.1", "64:ff9b::192.0.2.33", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4", "::1.2.3",
		"fe80::1%eth0", "ff15::101", "g::1", "1:2:3:4:5:6:7:8:", "::0:1.2.3.4", "1::2:3.4.5.6",
	} {
		checkIPAgainstNetip(t, s)
	}
}

func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "::", "1.2.3.04"} {
		f.Add(s)
	}
	f.Fuzz(checkIPAgainstNetip)
}
