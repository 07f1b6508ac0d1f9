package capture

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sipscope/sipscope/hep"
)

// What the HEP listener refuses, closes or drops at its door, as the
// reason label of its metrics and of its rate-limited warnings.
type hepRefusal int

const (
	refusedMaxConns   hepRefusal = iota // MaxTCPConns connections open
	refusedPerSource                    // MaxTCPConnsPerSource open from this address
	refusedNotAllowed                   // the source is outside Allow (a connection or a datagram)
	closedIdle                          // a connection sent nothing for IdleTimeout
	closedReadTimeout                   // a packet's bytes took longer than ReadTimeout
	closedAuth                          // a connection sent a packet without the auth key
	droppedAuth                         // a datagram without the auth key
	numHEPRefusals
)

var hepRefusalNames = [numHEPRefusals]string{
	refusedMaxConns:   "max_conns",
	refusedPerSource:  "max_conns_per_source",
	refusedNotAllowed: "not_allowed",
	closedIdle:        "idle_timeout",
	closedReadTimeout: "read_timeout",
	closedAuth:        "auth_failed",
	droppedAuth:       "auth_failed",
}

var hepRefusalMessages = [numHEPRefusals]string{
	refusedMaxConns:   "HEP TCP connection refused: the listener has MaxTCPConns connections open",
	refusedPerSource:  "HEP TCP connection refused: the source has MaxTCPConnsPerSource connections open",
	refusedNotAllowed: "HEP traffic refused: the source is not in the allowlist",
	closedIdle:        "HEP TCP connection closed: idle",
	closedReadTimeout: "HEP TCP connection closed: a packet did not arrive in full within the read timeout",
	closedAuth:        "HEP TCP connection closed: a packet without the configured auth key",
	droppedAuth:       "HEP datagram dropped: no or wrong auth key",
}

// hepWarnEvery is the longest a reason stays quiet in the log while it
// keeps happening: one line per reason and interval, with the count of the
// events the interval swallowed.
const hepWarnEvery = time.Minute

// hepWarnings rate-limits the listener's warnings per reason. It is safe
// for concurrent use and costs one atomic load when a reason is quiet.
type hepWarnings struct {
	log    *slog.Logger
	every  time.Duration
	last   [numHEPRefusals]atomic.Int64  // Unix ns of the latest line; 0 never
	quiet  [numHEPRefusals]atomic.Uint64 // events since that line
	logged [numHEPRefusals]atomic.Uint64 // lines written, for tests
}

// note logs r at WARN (idle closes at INFO: a quiet sender is no fault)
// unless it was logged within the interval; then it only counts it.
func (w *hepWarnings) note(r hepRefusal, remote netip.Addr) {
	now := time.Now().UnixNano()
	last := w.last[r].Load()
	if (last != 0 && now-last < int64(w.every)) || !w.last[r].CompareAndSwap(last, now) {
		w.quiet[r].Add(1)
		return
	}
	w.logged[r].Add(1)
	level := slog.LevelWarn
	if r == closedIdle {
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, hepRefusalMessages[r], "reason", hepRefusalNames[r], "remote", remote.String(),
		"more_since_last_line", w.quiet[r].Swap(0), "quiet_for", w.every.String())
}

// sourceKey is what MaxTCPConnsPerSource counts by: an IPv4 address, or
// the /64 of an IPv6 one, since a single IPv6 host usually has a whole /64
// to pick addresses from.
func sourceKey(a netip.Addr) netip.Addr {
	if a.Is4() {
		return a
	}
	p, _ := a.Prefix(64)
	return p.Addr()
}

// hepAllow is a parsed HEPConfig.Allow: nil allows every source.
type hepAllow []netip.Prefix

// parseHEPAllow reads CIDRs and bare addresses (a single host).
func parseHEPAllow(list []string) (hepAllow, error) {
	var out hepAllow
	for i, s := range list {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("field Allow[%d] %q: want a CIDR or an address: %w", i, list[i], err)
		}
		if p.Addr().Is4In6() {
			// A sender's IPv4 address arrives unmapped; so must the prefix.
			bits := p.Bits() - 96
			if bits < 0 {
				bits = 0
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// allows tells whether a (unmapped) source address may send. The list is
// short, so a linear scan beats any structure.
func (l hepAllow) allows(a netip.Addr) bool {
	if l == nil {
		return true
	}
	for _, p := range l {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// authorized tells whether p carries the configured key in HEPv3 chunk 14;
// with no key configured every packet is. HEPv1/v2 have no such chunk.
// The comparison takes the same time however much of a wrong key matches.
func authorized(key []byte, p *hep.Packet) bool {
	if key == nil {
		return true
	}
	return p.Version == 3 && subtle.ConstantTimeCompare(p.AuthKey, key) == 1
}
