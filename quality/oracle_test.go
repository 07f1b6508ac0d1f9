package quality

import (
	"bufio"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// This file reads the "-z rtp,streams" tables that tshark prints. It serves
// both the oracle files in shared/captures and the golden files of the
// synthetic scenarios.

// oracleStream is one row of a tshark rtp,streams table, with the numbers
// kept as tshark printed them so that comparisons are of formatted text.
type oracleStream struct {
	Table      string // "sdp" or "heuristic": which table of the oracle file
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

type streamKey struct {
	Src, Dst netip.AddrPort
	SSRC     uint32
}

func (o oracleStream) key() streamKey { return streamKey{o.Src, o.Dst, o.SSRC} }

// parseRTPStreams returns every row of every "RTP Streams" table in text.
// A table belongs to the "heuristic" kind when the "## " section heading
// before it mentions heuristics (the oracle files' second run), else "sdp".
func parseRTPStreams(text string) ([]oracleStream, error) {
	var (
		rows    []oracleStream
		section string
		inTable bool
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			section = l
			inTable = false
		case strings.Contains(l, "RTP Streams") && strings.HasPrefix(l, "==="):
			inTable = true
		case !inTable:
		case strings.HasPrefix(l, "==="):
			inTable = false
		case strings.Contains(l, "Start time") && strings.Contains(l, "SSRC"):
			// column headings
		case strings.TrimSpace(l) == "":
		default:
			row, err := parseRTPStreamRow(l)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			row.Table = "sdp"
			if strings.Contains(section, "heuristic") {
				row.Table = "heuristic"
			}
			rows = append(rows, row)
		}
	}
	return rows, sc.Err()
}

// parseRTPStreamRow splits one row. The payload column may contain spaces
// ("g711A, CN", "16-bit audio, stereo"), so the row is read from both ends:
// seven fixed columns on the left, nine (plus an optional X) on the right.
func parseRTPStreamRow(l string) (oracleStream, error) {
	var r oracleStream
	f := strings.Fields(l)
	if len(f) > 0 && f[len(f)-1] == "X" {
		r.Problem = true
		f = f[:len(f)-1]
	}
	if len(f) < 17 {
		return r, fmt.Errorf("rtp,streams row has %d columns: %q", len(f), l)
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
		return r, fmt.Errorf("ssrc %q: %w", f[6], err)
	}
	r.SSRC = uint32(ssrc)
	right := f[len(f)-9:]
	r.Payload = strings.Join(f[7:len(f)-9], " ")
	if r.Packets, err = strconv.Atoi(right[0]); err != nil {
		return r, fmt.Errorf("packets %q: %w", right[0], err)
	}
	if r.Lost, err = strconv.Atoi(right[1]); err != nil {
		return r, fmt.Errorf("lost %q: %w", right[1], err)
	}
	pct := right[2]
	if !strings.HasPrefix(pct, "(") || !strings.HasSuffix(pct, "%)") {
		return r, fmt.Errorf("lost percentage %q", pct)
	}
	r.LostPct = strings.TrimSuffix(strings.TrimPrefix(pct, "("), "%)")
	r.MinDelta, r.MeanDelta, r.MaxDelta = right[3], right[4], right[5]
	r.MinJitter, r.MeanJitter, r.MaxJitter = right[6], right[7], right[8]
	return r, nil
}

func parseAddrPort(ip, port string) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", ip, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", port, err)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}
