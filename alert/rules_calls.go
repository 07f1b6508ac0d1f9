package alert

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/sipscope/sipscope/correlate"
)

// Findings the diagnosis attaches to calls that these rules count.
const (
	FindingOneWayAudio = "one_way_audio"
	FindingNoMedia     = "no_media"
)

// sample is a record kept to seed a new alert's evidence: the few latest
// bad calls or registrations of a key.
type sample struct {
	callID, aor, ua string
	src             netip.Addr
}

const recentSamples = 4

type recent struct {
	s [recentSamples]sample
	n int
}

func (r *recent) add(s sample) {
	r.s[r.n%recentSamples] = s
	r.n++
}

func (r *recent) seed(ev *evidence) {
	for i := 0; i < min(r.n, recentSamples); i++ {
		s := &r.s[i]
		ev.ips.addAddr(s.src)
		ev.aors.add([]byte(s.aor))
		ev.uas.add([]byte(s.ua))
		ev.sampleString(s.callID)
	}
}

func (s sample) addTo(ev *evidence) {
	ev.ips.addAddr(s.src)
	ev.aors.add([]byte(s.aor))
	ev.uas.add([]byte(s.ua))
	ev.sampleString(s.callID)
}

// regSeen is what was last counted of a registration record.
type regSeen struct {
	attempts int
	outcome  int8
}

// regFailRule is registration_failures over every registration outcome.
type regFailRule struct {
	r             *rule
	cfg           RegistrationFailuresConfig
	total, failed series
	bad           recent
	seen          *table[uint64, regSeen]
	a             *active
}

func (rf *regFailRule) init(e *Engine) {
	rf.cfg = e.cfg.RegistrationFailures
	rf.r = e.newRule(RuleRegistrationFailures, rf.cfg.Common, "failure_share", rf.summary)
	rf.seen = newTable[uint64, regSeen](e.cfg.MaxCalls, evictions[regSeen](e, "registrations", nil))
}

// outcome of a registration record: 1 success, -1 failure, 0 not final
// yet (a first challenge waits for the retry with credentials).
func regOutcome(r *correlate.Registration) int8 {
	c := r.FinalCode
	switch {
	case c >= 200 && c < 300 && !r.Failed:
		return 1
	case c == 401 || c == 407:
		if r.Attempts >= 2 {
			return -1 // credentials sent and refused
		}
	case c >= 400:
		return -1
	}
	return 0
}

func (rf *regFailRule) observe(e *Engine, r *correlate.Registration) {
	if rf.cfg.Disabled {
		return
	}
	out := regOutcome(r)
	if out == 0 {
		return
	}
	seen, _ := rf.seen.getOrAdd(fnv64s(r.CallID) ^ uint64(r.Start.UnixNano()))
	if seen.attempts == r.Attempts && seen.outcome == out {
		return // the same outcome sent again (a retransmission, a later flush)
	}
	seen.attempts, seen.outcome = r.Attempts, out
	w, ep := rf.r.slots, e.epoch
	rf.total.add(ep, w, 1)
	if out > 0 {
		return
	}
	rf.failed.add(ep, w, 1)
	s := sample{callID: r.CallID, aor: r.AoR, ua: r.UserAgent, src: r.SrcIP}
	rf.bad.add(s)
	if rf.a == nil {
		n, f := rf.total.total(ep, w), rf.failed.total(ep, w)
		if int(n) < rf.cfg.MinRegistrations || float64(f)/float64(n) < rf.cfg.MinShare {
			return
		}
		rf.open(e)
		rf.bad.seed(&rf.a.ev)
		return
	}
	s.addTo(&rf.a.ev)
}

func (rf *regFailRule) open(e *Engine) {
	w := rf.r.slots
	minN, minShare, cr := rf.cfg.MinRegistrations, rf.cfg.MinShare, e.cfg.ClearRatio
	th := map[string]float64{"min_share": minShare, "min_registrations": float64(minN), "window_s": time.Duration(rf.cfg.Window).Seconds()}
	e.open(rf.r, "global", &rf.a, th, func(ep int64) verdict {
		n, f := rf.total.total(ep, w), rf.failed.total(ep, w)
		share := 0.0
		if n > 0 {
			share = float64(f) / float64(n)
		}
		return verdict{cond: int(n) >= minN && share >= minShare, clear: int(n) < minN || share < cr*minShare, value: share,
			figures: map[string]float64{"registrations": float64(n), "failed": float64(f), "failure_share": round(share)}}
	})
}

func (rf *regFailRule) summary(a *active) string {
	f := a.figures
	return fmt.Sprintf("%.0f%% of %.0f registrations failed within %s (peak %.0f%%, threshold %.0f%%)",
		100*f["failure_share"], f["registrations"], time.Duration(a.thresholds["window_s"]*float64(time.Second)), 100*a.peak, 100*a.thresholds["min_share"]) +
		topText(a) + stateText(a)
}

// Call rules, indexed in callStats.a and callStats.bad.
const (
	crFailure = iota
	crLowMOS
	crOneWay
	crNoMedia
	crPDD
	numCallRules
)

// callStats is one key (global, a destination or a prefix) of the call rules.
type callStats struct {
	attempts, netFail, answered series
	mosCalls, mosBad            series
	oneWay, noMedia             series
	pdd                         histogram
	ner                         float64 // baseline network effectiveness
	rolled                      int64   // the interval of the last outcome counted
	name                        string  // the alerts' key: "global", "destination IP", "prefix P"
	bad                         [numCallRules]recent
	a                           [numCallRules]*active
}

type callRules struct {
	r      [numCallRules]*rule
	cfg    *Config
	global callStats
	dsts   *table[netip.Addr, callStats]
	prefix *table[uint64, callStats]
	seen   *table[uint64, uint8]
	alpha  float64
}

// Flags of what was counted of a call.
const (
	seenOutcome uint8 = 1 << iota
	seenMOS
	seenOneWay
	seenNoMedia
)

func (cr *callRules) init(e *Engine) {
	c := &e.cfg
	cr.cfg = c
	cr.r[crFailure] = e.newRule(RuleFailureSpike, c.FailureSpike.Common, "ner_drop", cr.summaryFailure)
	cr.r[crLowMOS] = e.newRule(RuleLowMOS, c.LowMOS.Common, "low_mos_share", cr.summaryMOS)
	cr.r[crOneWay] = e.newRule(RuleOneWayAudio, c.OneWayAudio.Common, "calls", cr.summaryFinding("one-way audio"))
	cr.r[crNoMedia] = e.newRule(RuleNoMedia, c.NoMedia.Common, "calls", cr.summaryFinding("no media"))
	cr.r[crPDD] = e.newRule(RuleLongPDD, c.LongPDD.Common, "p95_pdd_ms", cr.summaryPDD)
	cr.alpha = float64(c.Interval) / float64(c.FailureSpike.BaselineWindow)
	of := func(v *callStats, close func(*active)) {
		for _, a := range v.a {
			close(a)
		}
	}
	cr.dsts = newTable[netip.Addr, callStats](min(c.MaxKeys, 1000), evictions(e, "destination", of))
	cr.prefix = newTable[uint64, callStats](min(c.MaxKeys, 1000), evictions(e, "prefix", of))
	cr.seen = newTable[uint64, uint8](c.MaxCalls, evictions[uint8](e, "calls", nil))
	cr.global.ner, cr.global.name = 1, "global"
}

func (cr *callRules) disabled(i int) bool {
	c := cr.cfg
	return [numCallRules]bool{c.FailureSpike.Disabled, c.LowMOS.Disabled, c.OneWayAudio.Disabled, c.NoMedia.Disabled, c.LongPDD.Disabled}[i]
}

// networkFailure tells a call the network failed (NER's view): a 5xx
// other than a user's decline, a timeout, or no final answer at all.
func networkFailure(c *correlate.Call) bool {
	if c.State == correlate.StateNoFinal {
		return true
	}
	if c.State != correlate.StateFailed {
		return false
	}
	f := c.FinalCode
	return f == 408 || f >= 500 && f < 600
}

func (cr *callRules) observe(e *Engine, c *correlate.Call, findings []string) {
	flags, _ := cr.seen.getOrAdd(fnv64s(c.CallID) ^ uint64(c.Start.UnixNano()))
	var add uint8
	if c.Finished && *flags&seenOutcome == 0 {
		add |= seenOutcome
	}
	answered := c.State == correlate.StateAnswered
	if c.Finished && answered && c.MOS > 0 && *flags&seenMOS == 0 {
		add |= seenMOS
	}
	for _, f := range findings {
		switch f {
		case FindingOneWayAudio:
			if *flags&seenOneWay == 0 {
				add |= seenOneWay
			}
		case FindingNoMedia:
			if *flags&seenNoMedia == 0 {
				add |= seenNoMedia
			}
		}
	}
	if add == 0 {
		return
	}
	*flags |= add
	s := sample{callID: c.CallID, aor: c.FromUser, ua: c.UserAgent, src: c.SrcIP}
	cr.count(e, &cr.global, c, add, s)
	if c.DstIP.IsValid() {
		st, added := cr.dsts.getOrAdd(c.DstIP)
		if added {
			st.ner, st.name = 1, "destination "+c.DstIP.String()
		}
		cr.count(e, st, c, add, s)
	}
	if n := cr.cfg.PrefixDigits; n > 0 && len(c.ToUser) >= n {
		p := c.ToUser[:n]
		st, added := cr.prefix.getOrAdd(fnv64s(p))
		if added {
			st.ner, st.name = 1, "prefix "+p
		}
		cr.count(e, st, c, add, s)
	}
}

func (cr *callRules) count(e *Engine, st *callStats, c *correlate.Call, add uint8, s sample) {
	w := cr.r[crFailure].slots
	ep := e.epoch
	var bad [numCallRules]bool
	if add&seenOutcome != 0 {
		// The interval that ended teaches the NER baseline; while the key
		// has an alert at a tenth of the speed, so that a trunk that was
		// always this bad becomes the norm and resolves, slowly.
		if r := st.rolled; r < ep && ep-r < int64(w) && r != 0 {
			if n := st.attempts.slots[r%int64(w)]; n > 0 {
				alpha := cr.alpha
				if st.a[crFailure] != nil {
					alpha /= 10
				}
				ner := 1 - float64(st.netFail.slots[r%int64(w)])/float64(n)
				st.ner += alpha * (ner - st.ner)
			}
		}
		st.rolled = ep
		st.attempts.add(ep, w, 1)
		st.netFail.advance(ep, w)
		if networkFailure(c) {
			st.netFail.add(ep, w, 1)
			bad[crFailure] = true
		}
		if c.State == correlate.StateAnswered {
			st.answered.add(ep, cr.r[crOneWay].slots, 1)
		}
		if c.PDDMs > 0 {
			st.pdd.add(ep, cr.r[crPDD].slots, c.PDDMs)
			bad[crPDD] = c.PDDMs > cr.cfg.LongPDD.P95AboveMs
		}
	}
	if add&seenMOS != 0 {
		ws := cr.r[crLowMOS].slots
		st.mosCalls.add(ep, ws, 1)
		st.mosBad.advance(ep, ws)
		if c.MOS < cr.cfg.LowMOS.MOSBelow {
			st.mosBad.add(ep, ws, 1)
			bad[crLowMOS] = true
		}
	}
	if add&seenOneWay != 0 {
		st.oneWay.add(ep, cr.r[crOneWay].slots, 1)
		bad[crOneWay] = true
	}
	if add&seenNoMedia != 0 {
		st.noMedia.add(ep, cr.r[crNoMedia].slots, 1)
		bad[crNoMedia] = true
	}
	for i := range numCallRules {
		if !bad[i] || cr.disabled(i) {
			continue
		}
		if st.a[i] != nil {
			s.addTo(&st.a[i].ev)
			continue
		}
		st.bad[i].add(s)
		if v := cr.verdict(i, st, ep, st.ner); v.cond {
			cr.open(e, i, st, st.name)
		}
	}
}

// verdict evaluates call rule i on st; ner is the baseline to compare with.
func (cr *callRules) verdict(i int, st *callStats, ep int64, ner float64) verdict {
	c, clr := cr.cfg, cr.cfg.ClearRatio
	switch i {
	case crFailure:
		w := cr.r[i].slots
		n, f := st.attempts.total(ep, w), st.netFail.total(ep, w)
		cur := 1.0
		if n > 0 {
			cur = 1 - float64(f)/float64(n)
		}
		ans := float64(st.answered.total(ep, cr.r[crOneWay].slots))
		drop := 0.0
		if ner > 0 {
			drop = max(0, 1-cur/ner)
		}
		asr := 0.0
		if n > 0 {
			asr = min(ans/float64(n), 1)
		}
		return verdict{
			cond:  int(n) >= c.FailureSpike.MinCalls && drop >= c.FailureSpike.Drop,
			clear: int(n) < c.FailureSpike.MinCalls || drop < clr*c.FailureSpike.Drop,
			value: drop,
			figures: map[string]float64{"calls": float64(n), "network_failures": float64(f), "ner": round(cur),
				"baseline_ner": round(ner), "ner_drop": round(drop), "asr": round(asr)},
		}
	case crLowMOS:
		w := cr.r[i].slots
		n, b := st.mosCalls.total(ep, w), st.mosBad.total(ep, w)
		share := 0.0
		if n > 0 {
			share = float64(b) / float64(n)
		}
		return verdict{
			cond:    int(n) >= c.LowMOS.MinCalls && share >= c.LowMOS.MinShare,
			clear:   int(n) < c.LowMOS.MinCalls || share < clr*c.LowMOS.MinShare,
			value:   share,
			figures: map[string]float64{"calls_with_media": float64(n), "low_mos_calls": float64(b), "low_mos_share": round(share)},
		}
	case crOneWay, crNoMedia:
		fc, s := c.OneWayAudio, &st.oneWay
		if i == crNoMedia {
			fc, s = c.NoMedia, &st.noMedia
		}
		w := cr.r[i].slots
		b, n := s.total(ep, w), st.answered.total(ep, cr.r[crOneWay].slots)
		n = max(n, b)
		share := 0.0
		if n > 0 {
			share = float64(b) / float64(n)
		}
		return verdict{
			cond:    int(b) >= fc.MinCalls && share >= fc.MinShare,
			clear:   float64(b) < clr*float64(fc.MinCalls) || share < clr*fc.MinShare,
			value:   float64(b),
			figures: map[string]float64{"calls": float64(b), "answered_calls": float64(n), "share": round(share)},
		}
	default: // crPDD
		p95, n := st.pdd.quantile(ep, cr.r[i].slots, 0.95)
		return verdict{
			cond:    int(n) >= c.LongPDD.MinCalls && p95 > c.LongPDD.P95AboveMs,
			clear:   int(n) < c.LongPDD.MinCalls || p95 <= clr*c.LongPDD.P95AboveMs,
			value:   p95,
			figures: map[string]float64{"p95_pdd_ms": p95, "calls": float64(n)},
		}
	}
}

func (cr *callRules) open(e *Engine, i int, st *callStats, key string) {
	c := cr.cfg
	var th map[string]float64
	switch i {
	case crFailure:
		th = map[string]float64{"baseline_ner": round(st.ner), "drop": c.FailureSpike.Drop,
			"ner_below": round(st.ner * (1 - c.FailureSpike.Drop)), "min_calls": float64(c.FailureSpike.MinCalls)}
	case crLowMOS:
		th = map[string]float64{"mos_below": c.LowMOS.MOSBelow, "min_share": c.LowMOS.MinShare, "min_calls": float64(c.LowMOS.MinCalls)}
	case crOneWay:
		th = map[string]float64{"min_calls": float64(c.OneWayAudio.MinCalls), "min_share": c.OneWayAudio.MinShare}
	case crNoMedia:
		th = map[string]float64{"min_calls": float64(c.NoMedia.MinCalls), "min_share": c.NoMedia.MinShare}
	case crPDD:
		th = map[string]float64{"p95_above_ms": c.LongPDD.P95AboveMs, "min_calls": float64(c.LongPDD.MinCalls)}
	}
	th["window_s"] = float64(cr.r[i].slots) * time.Duration(c.Interval).Seconds()
	a := e.open(cr.r[i], key, &st.a[i], th, func(ep int64) verdict { return cr.verdict(i, st, ep, st.ner) })
	st.bad[i].seed(&a.ev)
}

func window(a *active) time.Duration {
	return time.Duration(a.thresholds["window_s"] * float64(time.Second))
}

func (cr *callRules) summaryFailure(a *active) string {
	f := a.figures
	return fmt.Sprintf("%s: NER fell to %.0f%% over %.0f calls within %s (baseline %.0f%%, %.0f network failures, ASR %.0f%%, worst drop %.0f%%)",
		titleKey(a.key), 100*f["ner"], f["calls"], window(a), 100*a.thresholds["baseline_ner"], f["network_failures"], 100*f["asr"], 100*a.peak) +
		topText(a) + stateText(a)
}

func (cr *callRules) summaryMOS(a *active) string {
	f := a.figures
	return fmt.Sprintf("%s: %.0f%% of %.0f calls with media had MOS below %.1f within %s (peak %.0f%%)",
		titleKey(a.key), 100*f["low_mos_share"], f["calls_with_media"], a.thresholds["mos_below"], window(a), 100*a.peak) +
		topText(a) + stateText(a)
}

func (cr *callRules) summaryFinding(what string) func(*active) string {
	return func(a *active) string {
		f := a.figures
		return fmt.Sprintf("%s: %.0f answered calls had %s within %s (%.0f%% of %.0f answered, peak %.0f calls)",
			titleKey(a.key), f["calls"], what, window(a), 100*f["share"], f["answered_calls"], a.peak) +
			topText(a) + stateText(a)
	}
}

func (cr *callRules) summaryPDD(a *active) string {
	f := a.figures
	return fmt.Sprintf("%s: 95th percentile post-dial delay reached %s over %.0f calls within %s (threshold %s, peak %s)",
		titleKey(a.key), ms(f["p95_pdd_ms"]), f["calls"], window(a), ms(a.thresholds["p95_above_ms"]), ms(a.peak)) +
		topText(a) + stateText(a)
}

func ms(v float64) string {
	return (time.Duration(math.Round(v)) * time.Millisecond).String()
}
