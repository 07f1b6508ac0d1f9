package pipeline

import (
	"net/netip"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode/sip"
)

// Observer watches the correlated stream on capture time: every SIP
// message as it is correlated, and call and registration records as they
// change (calls with the findings of their diagnosis once it is known).
// The alert engine is one. Its methods run on the pipeline's goroutine;
// the message's slices are valid only during OnSIP.
type Observer interface {
	OnSIP(ts int64, src, dst netip.AddrPort, m *sip.Message)
	OnCall(c correlate.Call)
	OnCallFindings(c correlate.Call, findings []string)
	OnRegistration(r correlate.Registration)
	// Advance moves the observer's clock to ts when nothing else does (a
	// quiet link).
	Advance(ts int64)
}

// observeEvery is how often, in capture time, offline analysis hands the
// observer the records that changed (live mode does at every flush).
const observeEvery = int64(time.Second)

// SetObserver makes o see the correlated stream. In offline analysis
// (AnalyzeFile) the pipeline hands o the changed records every second of
// capture time and the final, diagnosed calls at the end; live mode hands
// them over at each flush, diagnosed.
func (p *Pipeline) SetObserver(o Observer) { p.obs = o }

// observeOffline gives the observer what changed since the last second of
// capture time. Only offline analysis drains the correlator's updates
// this way: live mode's flushes own them.
func (p *Pipeline) observeOffline(ts int64) {
	if ts-p.observedTS < observeEvery {
		return
	}
	p.observedTS = ts
	for _, c := range p.corr.Updates() {
		p.obs.OnCall(c)
	}
	for _, r := range p.corr.UpdatedRegistrations() {
		p.obs.OnRegistration(r)
	}
	p.obs.Advance(ts)
}

// observeFinal hands the observer the diagnosed calls of a finished
// analysis and the capture's end.
func (p *Pipeline) observeFinal(calls []correlate.Call) {
	if p.obs == nil {
		return
	}
	for _, r := range p.corr.UpdatedRegistrations() {
		p.obs.OnRegistration(r)
	}
	for _, c := range calls {
		p.obs.OnCallFindings(c, c.Findings)
	}
	p.obs.Advance(p.lastPktTS)
}

// observeLive hands the observer a flush's records and the packet time.
func (p *Pipeline) observeLive(calls []correlate.Call, regs []correlate.Registration, now int64) {
	if p.obs == nil {
		return
	}
	for _, r := range regs {
		p.obs.OnRegistration(r)
	}
	for i := range calls {
		p.obs.OnCallFindings(calls[i], calls[i].Findings)
	}
	p.obs.Advance(now)
}
