package alert

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"slices"
	"time"
)

// verdict is one evaluation of an alert's condition.
type verdict struct {
	cond    bool    // the trigger condition holds
	clear   bool    // the figures are below the clear level (hysteresis)
	value   float64 // the headline figure, whose peak is kept
	figures map[string]float64
}

// rule is what every alert of one rule shares.
type rule struct {
	name     string
	severity string
	slots    int // window / interval
	headline string
	summary  func(a *active) string
}

// active is an alert that is pending or firing; owner points at the key
// state's link to it, cleared when it closes.
type active struct {
	rule       *rule
	key        string
	state      string
	start      int64
	clearSince int64 // first evaluation found clear, 0 while not
	end        int64
	eval       func(epoch int64) verdict
	owner      **active
	thresholds map[string]float64
	figures    map[string]float64 // at the peak
	peak       float64
	ev         evidence
	id         string
	slot       int // index in history once firing
}

// open starts a pending alert for rule and key; seed adds the evidence
// already known. It is on the hot path only when a condition first holds.
func (e *Engine) open(r *rule, key string, owner **active, thresholds map[string]float64, eval func(int64) verdict) *active {
	var a *active
	if n := len(e.pool); n > 0 {
		a, e.pool = e.pool[n-1], e.pool[:n-1]
	} else {
		a = new(active)
	}
	ev := a.ev
	*a = active{rule: r, key: key, state: StatePending, start: e.now, eval: eval, owner: owner,
		thresholds: thresholds, slot: -1, ev: ev}
	a.ev.reset(e.cfg.SampleCallIDs)
	*owner = a
	e.actives = append(e.actives, a)
	e.log.Debug("alert pending", "rule", r.name, "key", key)
	return a
}

// evaluate runs at each interval boundary over the pending and firing
// alerts: confirm, update, resolve.
func (e *Engine) evaluate() {
	keep := e.actives[:0]
	for _, a := range e.actives {
		if a.owner == nil { // closed by an eviction since the last boundary
			continue
		}
		v := a.eval(e.epoch)
		// The figures kept are those of the worst evaluation: they tell
		// what the incident was, also after it resolved.
		if v.value > a.peak || a.figures == nil {
			a.peak, a.figures = v.value, v.figures
		}
		switch a.state {
		case StatePending:
			if !v.cond {
				e.drop(a, true)
				continue
			}
			e.fire(a)
		case StateFiring:
			if !v.clear {
				a.clearSince = 0
				break
			}
			if a.clearSince == 0 {
				a.clearSince = e.now
			}
			if e.now-a.clearSince >= int64(time.Duration(e.cfg.ResolveAfter)) {
				e.resolve(a, a.clearSince)
				continue
			}
		}
		e.snapshot(a)
		keep = append(keep, a)
	}
	clear(e.actives[len(keep):])
	e.actives = keep
}

// closeEvicted ends the alert of a key that is leaving its table.
func (e *Engine) closeEvicted(a *active) {
	if a == nil {
		return
	}
	if a.state == StateFiring {
		e.resolve(a, e.now)
	} else {
		e.drop(a, false)
	}
}

// drop forgets a pending alert; reuse is safe only once it has left
// e.actives (at evaluation), not when an eviction drops it in between.
func (e *Engine) drop(a *active, reuse bool) {
	*a.owner = nil
	a.owner = nil
	e.log.Debug("alert not confirmed", "rule", a.rule.name, "key", a.key)
	if reuse && len(e.pool) < 64 {
		e.pool = append(e.pool, a)
	}
}

func (e *Engine) fire(a *active) {
	a.state = StateFiring
	a.id = alertID(a.rule.name, a.key, a.start)
	e.m.firing.WithLabelValues(a.rule.name).Inc()
	e.m.total.WithLabelValues(a.rule.name).Inc()
	al := e.snapshot(a) // a.slot is -1: not stored yet
	// Readers of Alerts see the alert whole or not at all.
	e.mu.Lock()
	if len(e.history) >= e.cfg.MaxAlerts {
		e.forgetOldestResolved()
	}
	a.slot = len(e.history)
	e.history = append(e.history, al)
	e.mu.Unlock()
	e.logTransition(al)
	if e.sink != nil {
		e.sink.Alert(al)
	}
}

func (e *Engine) resolve(a *active, end int64) {
	a.state = StateResolved
	a.end = end
	*a.owner = nil
	a.owner = nil
	e.m.firing.WithLabelValues(a.rule.name).Dec()
	al := e.snapshot(a)
	e.logTransition(al)
	if e.sink != nil {
		e.sink.Alert(al)
	}
}

// forgetOldestResolved makes room in the history (e.mu held); when every
// kept alert is still firing, the oldest goes anyway.
func (e *Engine) forgetOldestResolved() {
	i := slices.IndexFunc(e.history, func(a Alert) bool { return a.State == StateResolved })
	if i < 0 {
		i = 0
	}
	e.history = slices.Delete(e.history, i, i+1)
	for _, a := range e.actives {
		if a.slot > i {
			a.slot--
		} else if a.slot == i {
			a.slot = -1
		}
	}
	e.m.historyDrop.Inc()
}

// snapshot copies a firing or resolved alert into the history that
// Alerts reads from other goroutines, and returns the copy.
func (e *Engine) snapshot(a *active) Alert {
	if a.state == StatePending {
		return Alert{}
	}
	figs := maps.Clone(a.figures)
	if figs == nil {
		figs = map[string]float64{}
	}
	if a.rule.headline != "" {
		figs["peak_"+a.rule.headline] = round(a.peak)
	}
	al := Alert{
		ID: a.id, Rule: a.rule.name, Severity: a.rule.severity, Key: a.key, State: a.state,
		Start:         time.Unix(0, a.start).UTC(),
		Figures:       figs,
		Thresholds:    a.thresholds,
		TopOffenders:  a.ev.offenders(e.cfg.TopOffenders),
		SampleCallIDs: slices.Clone(a.ev.samples),
	}
	if a.state == StateResolved {
		al.End = time.Unix(0, a.end).UTC()
	}
	al.Summary = a.rule.summary(a)
	if a.slot >= 0 {
		e.mu.Lock()
		if a.slot < len(e.history) {
			e.history[a.slot] = al
		}
		e.mu.Unlock()
	}
	return al
}

func (e *Engine) logTransition(al Alert) {
	level := slog.LevelWarn
	if al.State == StateResolved {
		level = slog.LevelInfo
	}
	e.log.Log(context.Background(), level, "alert "+al.State, "rule", al.Rule, "key", al.Key, "severity", al.Severity,
		"id", al.ID, "start", al.Start, "end", al.End, "summary", al.Summary)
}

// round keeps figures readable in JSON (3 decimals).
func round(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return math.Round(v*1000) / 1000
}
