package alert

import (
	"net/netip"
	"sort"
)

// sketchSize is how many candidates a top-offender sketch holds: the
// space-saving algorithm keeps every value whose count exceeds 1/size of
// the total, so the top few it reports are the real top few.
const sketchSize = 8

// sketchName is long enough for an AoR or a User-Agent; longer values are
// cut (and counted under their first bytes).
const sketchName = 62

type sketchEntry struct {
	n   uint32 // estimate, never below the real count
	err uint32 // how much of n was inherited: n-err is a guaranteed count
	len uint8
	b   [sketchName]byte
}

// sketch counts the heaviest values of one kind (IPs, AoRs, user agents)
// in fixed memory, without allocating: values are copied into the entries.
type sketch struct {
	e     [sketchSize]sketchEntry
	used  int
	total uint32 // values added
}

func (s *sketch) add(v []byte) {
	if len(v) == 0 {
		return
	}
	s.total++
	if len(v) > sketchName {
		v = v[:sketchName]
	}
	for i := 0; i < s.used; i++ {
		if en := &s.e[i]; int(en.len) == len(v) && string(en.b[:en.len]) == string(v) {
			en.n++
			return
		}
	}
	i := s.used
	if i < sketchSize {
		s.used++
	} else {
		// Replace the smallest; the newcomer inherits its count (+1),
		// which over-counts it by at most that much.
		i = 0
		for j := 1; j < sketchSize; j++ {
			if s.e[j].n < s.e[i].n {
				i = j
			}
		}
	}
	en := &s.e[i]
	en.err = en.n
	en.n++
	en.len = uint8(copy(en.b[:], v))
}

func (s *sketch) addAddr(a netip.Addr) {
	if !a.IsValid() {
		return
	}
	var buf [64]byte
	s.add(a.AppendTo(buf[:0]))
}

// top returns up to n values, heaviest first, with the counts they are
// guaranteed to have (when many light values pass through, the estimates
// of the newest are inflated; the guaranteed part is not).
func (s *sketch) top(kind string, n int) []Offender {
	out := make([]Offender, 0, s.used)
	for i := 0; i < s.used; i++ {
		out = append(out, Offender{Kind: kind, Value: string(s.e[i].b[:s.e[i].len]), Count: int(s.e[i].n - s.e[i].err)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// evidence is what an alert keeps about the traffic behind it.
type evidence struct {
	ips, aors, uas sketch
	samples        []string
	maxSamples     int
}

func (ev *evidence) reset(maxSamples int) {
	ev.ips, ev.aors, ev.uas = sketch{}, sketch{}, sketch{}
	ev.samples = ev.samples[:0]
	ev.maxSamples = maxSamples
}

// sample keeps a Call-ID until the bound is reached; only those first
// few allocate.
func (ev *evidence) sample(callID []byte) {
	if len(ev.samples) >= ev.maxSamples || len(callID) == 0 {
		return
	}
	for _, s := range ev.samples {
		if s == string(callID) {
			return
		}
	}
	ev.samples = append(ev.samples, string(callID))
}

func (ev *evidence) sampleString(callID string) {
	if len(ev.samples) >= ev.maxSamples || callID == "" {
		return
	}
	for _, s := range ev.samples {
		if s == callID {
			return
		}
	}
	ev.samples = append(ev.samples, callID)
}

func (ev *evidence) offenders(n int) []Offender {
	out := ev.ips.top("ip", n)
	out = append(out, ev.aors.top("aor", n)...)
	return append(out, ev.uas.top("user_agent", n)...)
}
