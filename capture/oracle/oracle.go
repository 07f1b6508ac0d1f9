// Package oracle reads the tshark oracle files that sit beside the
// third-party test captures (NAME.tshark.txt): packet and SIP counts, the
// Call-IDs, the request/status lines and the -z rtp,streams tables. Tests of
// every stage compare sipscope's results with it; nothing at run time uses it.
package oracle

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ErrFormat is wrapped when an oracle file does not have the expected shape.
var ErrFormat = errors.New("oracle: unexpected format")

// File is what one NAME.tshark.txt says about its capture.
type File struct {
	Packets    int
	SIPPackets int
	CallIDs    map[string]int // Call-ID → SIP packets carrying it
	Requests   map[string]int // method → count
	Responses  map[int]int    // status code → count
	Streams    []Stream       // rows of every rtp,streams table
	// Notes are the section headings' remarks, e.g. extra tshark options.
	ExtraOptions string
}

// Table says which rtp,streams run a row came from.
type Table string

const (
	TableSDP       Table = "sdp"       // RTP that tshark learned from SDP
	TableHeuristic Table = "heuristic" // tshark with the rtp_udp heuristic on
)

// Stream is one row of a tshark rtp,streams table, numbers kept as printed
// so comparisons are of formatted text.
type Stream struct {
	Table      Table
	Start, End string // seconds since the first frame, %.6f
	Src, Dst   netip.AddrPort
	SSRC       uint32
	Payload    string
	Packets    int
	Lost       int
	LostPct    string // inside the parentheses, without the % sign
	MinDelta   string
	MeanDelta  string
	MaxDelta   string
	MinJitter  string
	MeanJitter string
	MaxJitter  string
	Problem    bool
}

// Load reads and parses one oracle file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse parses the text of an oracle file.
func Parse(text string) (*File, error) {
	f := &File{CallIDs: map[string]int{}, Requests: map[string]int{}, Responses: map[int]int{}}
	var section string
	inTable := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if strings.HasPrefix(l, "# extra tshark options") {
			_, f.ExtraOptions, _ = strings.Cut(l, ": ")
			continue
		}
		if strings.HasPrefix(l, "## ") {
			section = l[3:]
			inTable = false
			continue
		}
		var err error
		switch {
		case strings.HasPrefix(section, "packet_count"):
			f.Packets, err = atoiTrim(l)
		case strings.HasPrefix(section, "sip_packet_count"):
			f.SIPPackets, err = atoiTrim(l)
		case strings.HasPrefix(section, "sip_call_ids"):
			n, id, ok := countAndRest(l)
			if ok {
				f.CallIDs[id] = n
			}
		case strings.HasPrefix(section, "sip methods"):
			err = f.addStartLine(l)
		case strings.HasPrefix(section, "tshark") && strings.Contains(section, "rtp,streams"):
			switch {
			case strings.HasPrefix(l, "===") && strings.Contains(l, "RTP Streams"):
				inTable = true
			case !inTable, strings.TrimSpace(l) == "", strings.Contains(l, "Start time"):
			case strings.HasPrefix(l, "==="):
				inTable = false
			default:
				var s Stream
				s, err = parseStreamRow(l)
				s.Table = TableSDP
				if strings.Contains(section, "heuristic") {
					s.Table = TableHeuristic
				}
				f.Streams = append(f.Streams, s)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
	return f, sc.Err()
}

// StreamsOf returns the rows of one table.
func (f *File) StreamsOf(t Table) []Stream {
	var out []Stream
	for _, s := range f.Streams {
		if s.Table == t {
			out = append(out, s)
		}
	}
	return out
}

func atoiTrim(l string) (int, error) {
	l = strings.TrimSpace(l)
	if l == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil {
		return 0, fmt.Errorf("%w: count %q", ErrFormat, l)
	}
	return n, nil
}

// countAndRest splits a `uniq -c` line: "     5 12013223@200.57.7.195".
func countAndRest(l string) (int, string, bool) {
	l = strings.TrimSpace(l)
	c, rest, ok := strings.Cut(l, " ")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.Atoi(c)
	if err != nil {
		return 0, "", false
	}
	return n, strings.TrimSpace(rest), true
}

// addStartLine reads "   3 REQ REGISTER" or "   2 RSP 401 (REGISTER)".
func (f *File) addStartLine(l string) error {
	n, rest, ok := countAndRest(l)
	if !ok {
		return nil
	}
	kind, what, _ := strings.Cut(rest, " ")
	switch kind {
	case "REQ":
		f.Requests[what] += n
	case "RSP":
		code, _, _ := strings.Cut(strings.TrimSpace(what), " ")
		c, err := strconv.Atoi(code)
		if err != nil {
			// tshark's "RSP  ()" for non-SIP on a SIP port has no code.
			return nil
		}
		f.Responses[c] += n
	default:
		return fmt.Errorf("%w: start-line row %q", ErrFormat, l)
	}
	return nil
}

// parseStreamRow splits one row. The payload column may contain spaces
// ("g711A, CN"), so the row is read from both ends: seven fixed columns on
// the left, nine (plus an optional X) on the right.
func parseStreamRow(l string) (Stream, error) {
	var r Stream
	f := strings.Fields(l)
	if len(f) > 0 && f[len(f)-1] == "X" {
		r.Problem = true
		f = f[:len(f)-1]
	}
	if len(f) < 17 {
		return r, fmt.Errorf("%w: rtp,streams row has %d columns: %q", ErrFormat, len(f), l)
	}
	var err error
	r.Start, r.End = f[0], f[1]
	if r.Src, err = parseAddrPort(f[2], f[3]); err != nil {
		return r, err
	}
	if r.Dst, err = parseAddrPort(f[4], f[5]); err != nil {
		return r, err
	}
	ssrc, err := strconv.ParseUint(strings.TrimPrefix(f[6], "0x"), 16, 32)
	if err != nil {
		return r, fmt.Errorf("%w: ssrc %q", ErrFormat, f[6])
	}
	r.SSRC = uint32(ssrc)
	right := f[len(f)-9:]
	r.Payload = strings.Join(f[7:len(f)-9], " ")
	if r.Packets, err = strconv.Atoi(right[0]); err != nil {
		return r, fmt.Errorf("%w: packets %q", ErrFormat, right[0])
	}
	if r.Lost, err = strconv.Atoi(right[1]); err != nil {
		return r, fmt.Errorf("%w: lost %q", ErrFormat, right[1])
	}
	pct := right[2]
	if !strings.HasPrefix(pct, "(") || !strings.HasSuffix(pct, "%)") {
		return r, fmt.Errorf("%w: lost percentage %q", ErrFormat, pct)
	}
	r.LostPct = strings.TrimSuffix(strings.TrimPrefix(pct, "("), "%)")
	r.MinDelta, r.MeanDelta, r.MaxDelta = right[3], right[4], right[5]
	r.MinJitter, r.MeanJitter, r.MaxJitter = right[6], right[7], right[8]
	return r, nil
}

func parseAddrPort(ip, port string) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: address %q", ErrFormat, ip)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: port %q", ErrFormat, port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}
