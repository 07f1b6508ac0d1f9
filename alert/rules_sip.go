package alert

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/sipscope/sipscope/decode/sip"
)

// rateState is one key of a rate rule: its window count, its baseline
// (an exponential moving average of per-interval rates, slowed down while
// the key has an alert) and the count at which the condition holds now.
type rateState struct {
	s      series
	srcs   distinct
	base   float64 // per second
	thr    float64 // trigger level per second
	armAt  uint32  // window count that reaches thr; 0 until first rolled
	rolled int64   // the interval the baseline has learnt up to
	a      *active
}

// rateRule is registration_storm (keys: global, each registrar) and
// invite_flood (keys: global, each source).
type rateRule struct {
	r       *rule
	cfg     RateConfig
	alpha   float64
	ivSec   float64
	winSec  float64
	keyName string
	what    string
	global  rateState
	keys    *table[netip.Addr, rateState]
}

func (rr *rateRule) init(e *Engine, name string, cfg RateConfig, keyName, what string) {
	rr.cfg, rr.keyName, rr.what = cfg, keyName, what
	rr.r = e.newRule(name, cfg.Common, "rate_per_s", rr.summary)
	rr.alpha = float64(e.cfg.Interval) / float64(cfg.BaselineWindow)
	rr.ivSec = time.Duration(e.cfg.Interval).Seconds()
	rr.winSec = time.Duration(cfg.Window).Seconds()
	rr.keys = newTable[netip.Addr, rateState](e.cfg.MaxKeys, evictions(e, name+"_"+keyName, func(v *rateState, close func(*active)) { close(v.a) }))
}

// roll brings st to the current interval: the slot that ended teaches the
// baseline, quiet intervals in between pull it towards zero.
func (rr *rateRule) roll(e *Engine, st *rateState, floor float64) {
	w := rr.r.slots
	if st.rolled == e.epoch && st.armAt != 0 {
		return
	}
	if st.armAt != 0 {
		// While the key has an alert the baseline learns at a tenth of
		// its speed: a short incident barely moves it, and a rate that
		// stays high for far longer than the baseline window (a busier
		// system than the floor assumed, from the start) becomes the new
		// normal and resolves instead of firing for ever.
		alpha := rr.alpha
		if st.a != nil {
			alpha /= 10
		}
		// The slot of the interval last rolled is intact while it is in
		// the window (an evaluation may have advanced the series since).
		if gap := e.epoch - st.rolled; gap > 0 {
			last := 0.0
			if gap < int64(w) {
				last = float64(st.s.slots[st.rolled%int64(w)]) / rr.ivSec
			}
			st.base += alpha * (last - st.base)
			if gap > 1 {
				st.base *= math.Pow(1-alpha, float64(gap-1))
			}
		}
	}
	st.rolled = e.epoch
	st.s.advance(e.epoch, w)
	if st.a == nil {
		st.thr = max(floor, rr.cfg.Factor*st.base)
		st.armAt = uint32(math.Ceil(st.thr * rr.winSec))
	}
}

// observe counts one request for key (and the global key); aor is the
// request's AoR for the evidence.
func (rr *rateRule) observe(e *Engine, key, src netip.Addr, m *sip.Message, aor []byte) {
	if rr.r == nil || rr.cfg.Disabled {
		return
	}
	rr.roll(e, &rr.global, rr.cfg.MinRate)
	rr.count(e, &rr.global, netip.Addr{}, src, m, aor)
	if !key.IsValid() {
		return
	}
	st, _ := rr.keys.getOrAdd(key)
	rr.roll(e, st, rr.cfg.MinKeyRate)
	rr.count(e, st, key, src, m, aor)
}

func (rr *rateRule) count(e *Engine, st *rateState, key, src netip.Addr, m *sip.Message, aor []byte) {
	w := rr.r.slots
	st.s.add(e.epoch, w, 1)
	var buf [16]byte
	b := src.As16()
	copy(buf[:], b[:])
	st.srcs.add(e.epoch/int64(w), fnv64(buf[:]))
	if st.a == nil {
		if st.s.sum < st.armAt {
			return
		}
		rr.open(e, st, key)
	}
	ev := &st.a.ev
	ev.ips.addAddr(src)
	ev.aors.add(aor)
	ev.uas.add(m.UserAgent)
	ev.sample(m.CallID)
}

func (rr *rateRule) open(e *Engine, st *rateState, key netip.Addr) {
	name := "global"
	if key.IsValid() {
		name = rr.keyName + " " + key.String()
	}
	floor := rr.cfg.MinRate
	if key.IsValid() {
		floor = rr.cfg.MinKeyRate
	}
	th := map[string]float64{
		"threshold_per_s": round(st.thr), "factor": rr.cfg.Factor, "min_rate_per_s": floor,
		"baseline_per_s": round(st.base), "window_s": rr.winSec,
	}
	w, factor, cr := rr.r.slots, rr.cfg.Factor, e.cfg.ClearRatio
	e.open(rr.r, name, &st.a, th, func(ep int64) verdict {
		n := st.s.total(ep, w)
		// The newest slot has only just begun at a boundary: the rate is
		// over the part of the window that has elapsed.
		span := rr.winSec - rr.ivSec + float64(e.now-ep*e.interval)/1e9
		rate := float64(n) / max(span, rr.ivSec)
		thr := max(floor, factor*st.base)
		return verdict{cond: rate >= thr, clear: rate < cr*thr, value: rate, figures: map[string]float64{
			"rate_per_s": round(rate), "count": float64(n), "baseline_per_s": round(st.base), "threshold_per_s": round(thr),
			"distinct_sources": math.Round(st.srcs.estimate(ep / int64(w))),
		}}
	})
}

func (rr *rateRule) summary(a *active) string {
	f, peak := a.figures, a.peak
	base := a.thresholds["baseline_per_s"]
	where := "in total"
	if a.key != "global" {
		where = "at " + a.key
	}
	if a.key != "global" && rr.keyName == "source" {
		where = "from " + a.key
	}
	times := ""
	if base > 0 {
		times = fmt.Sprintf(", %.0f× the baseline of %.2f/s", peak/base, base)
	}
	about := "about"
	if f["distinct_sources"] >= math.Round(distinctSaturated) {
		about = "more than"
	}
	s := fmt.Sprintf("%s %s peaked at %.1f/s over %s%s (threshold %.1f/s)",
		rr.what, where, peak, time.Duration(rr.winSec*float64(time.Second)), times, a.thresholds["threshold_per_s"])
	if !strings.HasPrefix(a.key, "source ") {
		s += fmt.Sprintf(", from %s %.0f sources", about, f["distinct_sources"])
	}
	return s + topText(a) + stateText(a)
}

// scanState is one source seen sending OPTIONS, REGISTER or INVITE
// outside a dialog, with the answers it got.
type scanState struct {
	reqs, uaHits, resps, hard, challenges, oks series
	users                                      distinct
	armed                                      int64 // epoch+1 of the last arming: at most one pending alert per interval
	a                                          *active
}

type scanRule struct {
	r    *rule
	cfg  ScannerConfig
	uas  []string
	keys *table[netip.Addr, scanState]
}

func (sr *scanRule) init(e *Engine) {
	sr.cfg = e.cfg.Scanner
	sr.uas = lowerAll(sr.cfg.UserAgents)
	sr.r = e.newRule(RuleScanner, sr.cfg.Common, "distinct_users", sr.summary)
	sr.keys = newTable[netip.Addr, scanState](e.cfg.MaxKeys, evictions(e, "scanner_source", func(v *scanState, close func(*active)) { close(v.a) }))
}

func (sr *scanRule) request(e *Engine, src netip.Addr, m *sip.Message) {
	if sr.cfg.Disabled {
		return
	}
	w, ep := sr.r.slots, e.epoch
	st, _ := sr.keys.getOrAdd(src)
	st.reqs.add(ep, w, 1)
	known := false
	if len(m.UserAgent) > 0 {
		for _, p := range sr.uas {
			if containsFold(m.UserAgent, p) {
				known = true
				break
			}
		}
	}
	if known {
		st.uaHits.add(ep, w, 1)
	}
	user := m.ToUser
	if len(user) == 0 {
		user = m.RequestURI
	}
	newUser := st.users.add(ep/int64(w), fnv64(user))
	if st.a == nil {
		if st.armed == ep+1 || !(known || newUser && st.users.estimate(ep/int64(w)) >= float64(sr.cfg.MinDistinctUsers)) {
			return
		}
		st.armed = ep + 1
		sr.open(e, st, src)
	}
	ev := &st.a.ev
	ev.ips.addAddr(src)
	ev.aors.add(m.ToURI)
	ev.uas.add(m.UserAgent)
	ev.sample(m.CallID)
}

func (sr *scanRule) response(e *Engine, to netip.Addr, m *sip.Message) {
	if sr.cfg.Disabled {
		return
	}
	st := sr.keys.get(to)
	if st == nil {
		return
	}
	w, ep := sr.r.slots, e.epoch
	st.resps.add(ep, w, 1)
	switch c := m.StatusCode; c {
	case 401, 407:
		st.challenges.add(ep, w, 1)
	case 403, 404, 484, 485, 604:
		// What a sweep gets for users that do not exist or are not its
		// to reach; busy, unavailable or declined answers are what real
		// callers get too and are not counted.
		st.hard.add(ep, w, 1)
	default:
		st.oks.add(ep, w, 1)
	}
}

func (sr *scanRule) open(e *Engine, st *scanState, src netip.Addr) {
	th := map[string]float64{
		"min_distinct_users": float64(sr.cfg.MinDistinctUsers), "min_failure_share": sr.cfg.MinFailureShare,
		"window_s": time.Duration(sr.cfg.Window).Seconds(),
	}
	w := sr.r.slots
	minD, minShare, cr := float64(sr.cfg.MinDistinctUsers), sr.cfg.MinFailureShare, e.cfg.ClearRatio
	e.open(sr.r, "source "+src.String(), &st.a, th, func(ep int64) verdict {
		d := st.users.estimate(ep / int64(w))
		reqs, resps := st.reqs.total(ep, w), st.resps.total(ep, w)
		hard, ch, oks := st.hard.total(ep, w), st.challenges.total(ep, w), st.oks.total(ep, w)
		ua := st.uaHits.total(ep, w)
		// Unanswered requests and challenges never answered with success
		// count as failures: a sweep mostly gets 404/403/401 or nothing.
		fail := float64(hard) + float64(max(int64(ch)-int64(oks), 0)) + float64(max(int64(reqs)-int64(resps), 0))
		share := 0.0
		if reqs > 0 {
			share = min(fail/float64(reqs), 1)
		}
		sweep := d >= minD && share >= minShare
		return verdict{
			cond:  ua > 0 || sweep,
			clear: ua == 0 && (d < cr*minD || share < cr*minShare),
			value: d,
			figures: map[string]float64{"distinct_users": math.Round(d), "requests": float64(reqs), "responses": float64(resps),
				"failure_share": round(share), "scanner_ua_requests": float64(ua)},
		}
	})
}

func (sr *scanRule) summary(a *active) string {
	f := a.figures
	s := fmt.Sprintf("%s sent %.0f requests to about %.0f distinct users (peak %.0f) with %.0f%% failed or unanswered",
		titleKey(a.key), f["requests"], f["distinct_users"], a.peak, 100*f["failure_share"])
	if f["scanner_ua_requests"] > 0 || hasScannerUA(a) {
		s += ", using a known scanner User-Agent"
	}
	return s + topText(a) + stateText(a)
}

func hasScannerUA(a *active) bool {
	for i := 0; i < a.ev.uas.used; i++ {
		en := &a.ev.uas.e[i]
		for _, p := range DefaultScannerUserAgents() {
			if containsFold(en.b[:en.len], p) {
				return true
			}
		}
	}
	return false
}

// authState is one source or AoR: attempts that carried credentials,
// 401/407/403 answers, and other final answers (accepted: oks).
type authState struct {
	creds, rejects, oks series
	a                   *active
}

func (st *authState) failed(ep int64, w int) int64 {
	f := int64(st.creds.total(ep, w)) - int64(st.oks.total(ep, w))
	return max(min(f, int64(st.rejects.total(ep, w))), 0)
}

type authRule struct {
	r     *rule
	cfg   AuthBruteforceConfig
	bySrc *table[netip.Addr, authState]
	byAoR *table[uint64, authState]
}

func (ar *authRule) init(e *Engine) {
	ar.cfg = e.cfg.AuthBruteforce
	ar.r = e.newRule(RuleAuthBruteforce, ar.cfg.Common, "failed_attempts", ar.summary)
	of := func(v *authState, close func(*active)) { close(v.a) }
	ar.bySrc = newTable[netip.Addr, authState](e.cfg.MaxKeys, evictions(e, "auth_source", of))
	ar.byAoR = newTable[uint64, authState](e.cfg.MaxKeys, evictions(e, "auth_aor", of))
}

func hasCredentials(m *sip.Message) bool {
	return m.Header("Authorization") != nil || m.Header("Proxy-Authorization") != nil
}

func (ar *authRule) request(e *Engine, src netip.Addr, m *sip.Message, aor []byte) {
	if ar.cfg.Disabled || !hasCredentials(m) {
		return
	}
	w, ep := ar.r.slots, e.epoch
	st, _ := ar.bySrc.getOrAdd(src)
	st.creds.add(ep, w, 1)
	ar.check(e, st, true, src, m, aor)
	if len(aor) > 0 {
		st, _ = ar.byAoR.getOrAdd(fnv64(aor))
		st.creds.add(ep, w, 1)
		ar.check(e, st, false, src, m, aor)
	}
}

func (ar *authRule) response(e *Engine, to netip.Addr, m *sip.Message, aor []byte) {
	if ar.cfg.Disabled {
		return
	}
	// Any other final answer means the credentials (if any) were
	// accepted: a busy callee or a declined call is not a failed login.
	c := m.StatusCode
	reject := c == 401 || c == 407 || c == 403
	w, ep := ar.r.slots, e.epoch
	for i, st := range [2]*authState{ar.bySrc.get(to), nil} {
		if i == 1 && len(aor) > 0 {
			st = ar.byAoR.get(fnv64(aor))
		}
		if st == nil {
			continue
		}
		if reject {
			st.rejects.add(ep, w, 1)
		} else {
			st.oks.add(ep, w, 1)
		}
		if st.a == nil && reject && st.failed(ep, w) >= int64(ar.cfg.MinFailures) {
			if i == 0 {
				ar.open(e, st, "source "+to.String())
			} else {
				ar.open(e, st, "aor "+string(aor))
			}
		}
	}
}

// check arms the alert of st (a source's when bySource, else an AoR's)
// when the failures reach the threshold, and adds the request to its
// evidence.
func (ar *authRule) check(e *Engine, st *authState, bySource bool, src netip.Addr, m *sip.Message, aor []byte) {
	w, ep := ar.r.slots, e.epoch
	if st.a == nil {
		if st.failed(ep, w) < int64(ar.cfg.MinFailures) {
			return
		}
		if bySource {
			ar.open(e, st, "source "+src.String())
		} else {
			ar.open(e, st, "aor "+string(aor))
		}
	}
	ev := &st.a.ev
	ev.ips.addAddr(src)
	ev.aors.add(aor)
	ev.uas.add(m.UserAgent)
	ev.sample(m.CallID)
}

func (ar *authRule) open(e *Engine, st *authState, key string) {
	w := ar.r.slots
	minF, cr := float64(ar.cfg.MinFailures), e.cfg.ClearRatio
	th := map[string]float64{"min_failures": minF, "window_s": time.Duration(ar.cfg.Window).Seconds()}
	e.open(ar.r, key, &st.a, th, func(ep int64) verdict {
		f := float64(st.failed(ep, w))
		return verdict{cond: f >= minF, clear: f < cr*minF, value: f, figures: map[string]float64{
			"failed_attempts": f, "credentialed_attempts": float64(st.creds.total(ep, w)),
			"rejects": float64(st.rejects.total(ep, w)), "accepted": float64(st.oks.total(ep, w)),
		}}
	})
}

func (ar *authRule) summary(a *active) string {
	f := a.figures
	return fmt.Sprintf("%s had %.0f rejected attempts with credentials (peak %.0f, %.0f accepted) within %s",
		titleKey(a.key), f["failed_attempts"], a.peak, f["accepted"], time.Duration(a.thresholds["window_s"]*float64(time.Second))) +
		topText(a) + stateText(a)
}

// titleKey writes a key at the start of a sentence.
func titleKey(k string) string {
	switch {
	case k == "global":
		return "All traffic"
	case strings.HasPrefix(k, "aor "):
		return "AoR " + k[4:]
	case len(k) > 0 && 'a' <= k[0] && k[0] <= 'z':
		return string(k[0]-'a'+'A') + k[1:]
	}
	return k
}

// topText names the heaviest offenders of an alert.
func topText(a *active) string {
	s := ""
	for _, sk := range []struct {
		name string
		sk   *sketch
	}{{"source", &a.ev.ips}, {"AoR", &a.ev.aors}, {"User-Agent", &a.ev.uas}} {
		// Only a value that stands out (a tenth of what the sketch saw)
		// is worth a sentence; a storm of equals has no top offender.
		if t := sk.sk.top("", 1); len(t) > 0 && uint32(t[0].Count)*10 >= sk.sk.total {
			s += fmt.Sprintf("; top %s %s (%d)", sk.name, t[0].Value, t[0].Count)
		}
	}
	return s
}

func stateText(a *active) string {
	if a.state == StateResolved {
		return fmt.Sprintf("; resolved after %s.", time.Duration(a.end-a.start).Round(time.Second))
	}
	return "."
}
