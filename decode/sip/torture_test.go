package sip

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tortureDir holds the RFC 4475 messages, exact bytes, outside the project.
const tortureDir = "../../testdata/torture"

type tortureCase struct {
	name, section, expected, notes string
}

func readTortureIndex(t testing.TB) []tortureCase {
	t.Helper()
	f, err := os.Open(filepath.Join(tortureDir, "INDEX.tsv"))
	if err != nil {
		t.Fatalf("RFC 4475 fixtures missing: %v", err)
	}
	defer f.Close()
	var cases []tortureCase
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if first {
			continue // column names
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 {
			t.Fatalf("INDEX.tsv line %q has %d columns", sc.Text(), len(cols))
		}
		c := tortureCase{name: cols[0], section: cols[1], expected: cols[2]}
		if len(cols) > 3 {
			c.notes = cols[3]
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("INDEX.tsv lists no messages")
	}
	return cases
}

// Independent, naive extraction of what the parser must find.
var (
	naiveCallID = regexp.MustCompile(`(?mi)^(?:call-id|i)[ \t]*:[ \t]*(\S+)[ \t]*\r$`)
	naiveStart  = regexp.MustCompile(`^(?:([^ ]+) [^ ]+ SIP/2\.0|SIP/2\.0 (\d{3}) .*)\r\n`)
)

// What the parser does with each message the RFC calls invalid: a sentinel
// error, or (where the RFC lets a liberal parser accept) a flag.
var tortureInvalid = map[string]struct {
	err  error
	flag Flags
}{
	"clerr.dat":      {err: ErrTruncatedBody},
	"scalar02.dat":   {err: ErrBadCSeq},
	"quotbal.dat":    {err: ErrBadHeader},
	"lwsruri.dat":    {err: ErrBadStartLine},
	"trws.dat":       {err: ErrBadStartLine},
	"baddate.dat":    {flag: FlagBadDate},
	"badaspec.dat":   {flag: FlagLaxAddrSpec},
	"badvers.dat":    {err: ErrBadVersion},
	"mismatch02.dat": {err: ErrCSeqMethodMismatch},
	"multi01.dat":    {err: ErrDuplicateHeader},
}

func TestRFC4475TortureMessages(t *testing.T) {
	cases := readTortureIndex(t)
	listed := map[string]bool{}
	for _, c := range cases {
		listed[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(tortureDir, c.name))
			if err != nil {
				t.Fatal(err)
			}
			var m Message
			err = m.Unmarshal(b)
			switch c.expected {
			case "valid":
				if err != nil {
					t.Fatalf("§%s valid message rejected: %v", c.section, err)
				}
				want := naiveCallID.FindSubmatch(b)
				if want == nil || string(m.CallID) != string(want[1]) {
					t.Errorf("CallID = %q, want %q", m.CallID, want)
				}
				start := naiveStart.FindSubmatch(b)
				if start == nil {
					t.Fatalf("test cannot find the start line of %s", c.name)
				}
				if string(start[1]) != string(m.Method) {
					t.Errorf("Method = %q, want %q", m.Method, start[1])
				}
				if start[2] != nil && string(start[2]) != itoa(m.StatusCode) {
					t.Errorf("StatusCode = %d, want %s", m.StatusCode, start[2])
				}
				if !LooksLikeSIP(b) {
					t.Errorf("LooksLikeSIP = false on a valid message")
				}
			case "invalid":
				want, ok := tortureInvalid[c.name]
				if !ok {
					t.Fatalf("no expectation for invalid message %s (%s)", c.name, c.notes)
				}
				if want.err != nil {
					if !errors.Is(err, want.err) {
						t.Fatalf("err = %v, want %v", err, want.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("err = %v, want acceptance with flag %v", err, want.flag)
				}
				if !m.Flags.Has(want.flag) {
					t.Errorf("Flags = %v, want %v", m.Flags, want.flag)
				}
			default:
				t.Fatalf("INDEX.tsv: unknown expectation %q", c.expected)
			}
		})
	}
	files, err := filepath.Glob(filepath.Join(tortureDir, "*.dat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is not in INDEX.tsv", filepath.Base(f))
		}
	}
}

// Details the RFC calls out for individual messages.
func TestRFC4475Details(t *testing.T) {
	load := func(name string) *Message {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(tortureDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return mustUnmarshal(t, b)
	}
	t.Run("wsinv: folding and LWS everywhere", func(t *testing.T) {
		m := load("wsinv.dat")
		eq(t, "ToURI", m.ToURI, "sip:vivekg@chair-dnrc.example.com")
		eq(t, "ToTag", m.ToTag, "1918181833n")
		eq(t, "FromDisplay", m.FromDisplay, `J Rosenberg \\\"`)
		eq(t, "FromURI", m.FromURI, "sip:jdrosen@example.com")
		eq(t, "FromTag", m.FromTag, "98asjd8")
		eq(t, "ViaBranch", m.ViaBranch, "390skdjuw")
		eq(t, "CSeqMethod", m.CSeqMethod, "INVITE")
		eq(t, "Subject", m.Header("Subject"), "")
		eq(t, "NewFangledHeader", m.Header("newfangledheader"), "newfangled value\r\n continued newfangled value")
		if m.CSeq != 9 || m.MaxForwards != 68 || m.ViaCount != 3 || m.ContentLength != 150 || len(m.Body) != 150 {
			t.Errorf("CSeq=%d MaxForwards=%d ViaCount=%d ContentLength=%d len(Body)=%d",
				m.CSeq, m.MaxForwards, m.ViaCount, m.ContentLength, len(m.Body))
		}
	})
	t.Run("esc02: an escaped method is an unknown method", func(t *testing.T) {
		m := load("esc02.dat")
		eq(t, "Method", m.Method, "RE%47IST%45R")
		eq(t, "C%6Fntact", m.Header("C%6Fntact"), "<sip:alias2@host2.example.com>")
	})
	t.Run("longreq: long values and 34 Via headers", func(t *testing.T) {
		m := load("longreq.dat")
		if m.ViaCount != 34 {
			t.Errorf("ViaCount = %d", m.ViaCount)
		}
		eq(t, "TopVia", m.TopVia, "SIP/2.0/TCP sip33.example.com")
		if m.ViaBranch != nil {
			t.Errorf("ViaBranch = %q, want nil", m.ViaBranch)
		}
		b, _ := os.ReadFile(filepath.Join(tortureDir, "longreq.dat"))
		wantTag := regexp.MustCompile(`(?m)^F: [^;]*;tag=(\d+);`).FindSubmatch(b)
		if wantTag == nil || string(m.FromTag) != string(wantTag[1]) {
			t.Errorf("FromTag = %q, want %q", m.FromTag, wantTag)
		}
		eq(t, "FromUser", m.FromUser, strings.Repeat("amazinglylongcallername", 5))
	})
	t.Run("semiuri: parameters in the user part", func(t *testing.T) {
		m := load("semiuri.dat")
		eq(t, "RequestURI", m.RequestURI, "sip:user;par=u%40example.net@example.com")
		eq(t, "ToUser", m.ToUser, "j_user")
	})
	t.Run("mpart01: binary multipart body", func(t *testing.T) {
		m := load("mpart01.dat")
		if m.ContentLength != 553 || len(m.Body) != 553 || m.SDP() != nil {
			t.Errorf("ContentLength=%d len(Body)=%d SDP=%q", m.ContentLength, len(m.Body), m.SDP())
		}
		eq(t, "BodyPart(text/plain)", BodyPart(m.ContentType, m.Body, "text/plain"), "Hello")
	})
	t.Run("unksm2: unknown URI schemes have no user", func(t *testing.T) {
		m := load("unksm2.dat")
		eq(t, "ToURI", m.ToURI, "isbn:2983792873")
		eq(t, "FromURI", m.FromURI, "http://www.example.com")
		if m.ToUser != nil || m.FromUser != nil {
			t.Errorf("ToUser=%q FromUser=%q", m.ToUser, m.FromUser)
		}
	})
	t.Run("inv2543: no Content-Length means the rest of the datagram", func(t *testing.T) {
		m := load("inv2543.dat")
		if m.ContentLength != -1 || len(m.Body) == 0 || m.ViaBranch != nil {
			t.Errorf("ContentLength=%d len(Body)=%d ViaBranch=%q", m.ContentLength, len(m.Body), m.ViaBranch)
		}
		eq(t, "FromUser", m.FromUser, "+13035551111")
	})
	t.Run("badaspec: the spaced URI is trimmed", func(t *testing.T) {
		m := load("badaspec.dat")
		eq(t, "ToURI", m.ToURI, "sip:t.watson@example.org")
	})
	t.Run("bcast: two Via headers in a response", func(t *testing.T) {
		m := load("bcast.dat")
		if m.ViaCount != 2 || m.StatusCode != 200 {
			t.Errorf("ViaCount=%d StatusCode=%d", m.ViaCount, m.StatusCode)
		}
		eq(t, "ViaBranch", m.ViaBranch, "z9hG4bK1324923")
	})
	t.Run("regescrt: compact Content-Length without space", func(t *testing.T) {
		m := load("regescrt.dat")
		eq(t, "Contact", m.Contact, "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>")
		if m.ContentLength != 0 {
			t.Errorf("ContentLength = %d", m.ContentLength)
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
