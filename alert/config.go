package alert

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Rule names: a public contract (config keys, JSON, metrics labels), added
// to, never renamed.
const (
	RuleRegistrationStorm    = "registration_storm"
	RuleRegistrationFailures = "registration_failures"
	RuleScanner              = "scanner"
	RuleAuthBruteforce       = "auth_bruteforce"
	RuleInviteFlood          = "invite_flood"
	RuleFailureSpike         = "failure_spike"
	RuleLowMOS               = "low_mos"
	RuleOneWayAudio          = "one_way_audio"
	RuleNoMedia              = "no_media"
	RuleLongPDD              = "long_pdd"
)

// Rules lists every built-in rule name in a stable order.
func Rules() []string {
	return []string{RuleRegistrationStorm, RuleRegistrationFailures, RuleScanner, RuleAuthBruteforce,
		RuleInviteFlood, RuleFailureSpike, RuleLowMOS, RuleOneWayAudio, RuleNoMedia, RuleLongPDD}
}

// Severities.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Duration is a time.Duration written as a Go duration string ("10s",
// "5m") in the config file, like the other duration keys of sipscope.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: duration must be a string like \"10s\": %v", ErrBadConfig, err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	*d = Duration(v)
	return nil
}

// Common are the settings every rule has.
type Common struct {
	Disabled bool   `json:"disabled,omitempty"`
	Severity string `json:"severity,omitempty"`
	// Window is the sliding period the rule counts over.
	Window Duration `json:"window,omitempty"`
}

// RateConfig is a rate rule: a count per second over Window that fires
// when it reaches Factor times its own baseline and at least MinRate.
type RateConfig struct {
	Common
	Factor float64 `json:"factor,omitempty"`
	// MinRate is the absolute floor (per second) for the global key;
	// MinKeyRate the floor for each per-registrar or per-source key.
	MinRate    float64 `json:"min_rate,omitempty"`
	MinKeyRate float64 `json:"min_key_rate,omitempty"`
	// BaselineWindow is the time constant of the baseline's moving
	// average; the baseline learns only while the key raises no alert.
	BaselineWindow Duration `json:"baseline_window,omitempty"`
}

// RegistrationFailuresConfig fires when the share of failed registrations
// (final failures after a challenge, or any other 4xx-6xx) reaches MinShare
// of at least MinRegistrations outcomes in Window.
type RegistrationFailuresConfig struct {
	Common
	MinShare         float64 `json:"min_share,omitempty"`
	MinRegistrations int     `json:"min_registrations,omitempty"`
}

// ScannerConfig fires on a known scanner User-Agent, or on one source
// addressing MinDistinctUsers distinct users with OPTIONS, REGISTER or
// INVITE within Window while mostly failing (MinFailureShare of answers).
type ScannerConfig struct {
	Common
	UserAgents       []string `json:"user_agents,omitempty"`
	MinDistinctUsers int      `json:"min_distinct_users,omitempty"`
	MinFailureShare  float64  `json:"min_failure_share,omitempty"`
}

// AuthBruteforceConfig fires when one source or one AoR collects
// MinFailures rejected attempts that carried credentials within Window.
type AuthBruteforceConfig struct {
	Common
	MinFailures int `json:"min_failures,omitempty"`
}

// FailureSpikeConfig fires when the network effectiveness ratio (calls
// not ended by a network failure: 5xx, 408, or no final answer) of at
// least MinCalls calls in Window falls below (1-Drop) times its baseline.
type FailureSpikeConfig struct {
	Common
	MinCalls       int      `json:"min_calls,omitempty"`
	Drop           float64  `json:"drop,omitempty"`
	BaselineWindow Duration `json:"baseline_window,omitempty"`
}

// LowMOSConfig fires when MinShare of at least MinCalls answered calls
// with media in Window have a MOS below MOSBelow.
type LowMOSConfig struct {
	Common
	MOSBelow float64 `json:"mos_below,omitempty"`
	MinShare float64 `json:"min_share,omitempty"`
	MinCalls int     `json:"min_calls,omitempty"`
}

// FindingConfig fires when at least MinCalls answered calls, and MinShare
// of the answered calls in Window, carry the rule's finding.
type FindingConfig struct {
	Common
	MinCalls int     `json:"min_calls,omitempty"`
	MinShare float64 `json:"min_share,omitempty"`
}

// LongPDDConfig fires when the 95th percentile of post-dial delay of at
// least MinCalls calls in Window is above P95AboveMs.
type LongPDDConfig struct {
	Common
	P95AboveMs float64 `json:"p95_above_ms,omitempty"`
	MinCalls   int     `json:"min_calls,omitempty"`
}

// Config is the `alerts` section of the config file. Zero fields take the
// defaults of DefaultConfig when read through Config.WithDefaults.
type Config struct {
	Disabled bool `json:"disabled,omitempty"`
	// Interval is the evaluation step: alerts confirm, update and resolve
	// on its boundaries of capture time, and windows slide by it.
	Interval Duration `json:"interval,omitempty"`
	// MaxKeys caps every per-key table (sources, AoRs, registrars,
	// destinations); the least recently seen key is evicted and counted.
	MaxKeys int `json:"max_keys,omitempty"`
	// MaxCalls caps the memory of which calls and registrations were
	// already counted (records arrive once per change).
	MaxCalls int `json:"max_calls,omitempty"`
	// MaxAlerts caps the alerts kept for Alerts(); the oldest resolved
	// ones go first.
	MaxAlerts int `json:"max_alerts,omitempty"`
	// ResolveAfter is how long a condition must stay below its clear
	// level (ClearRatio of the trigger) before a firing alert resolves.
	ResolveAfter Duration `json:"resolve_after,omitempty"`
	ClearRatio   float64  `json:"clear_ratio,omitempty"`
	// TopOffenders and SampleCallIDs bound the evidence of each alert.
	TopOffenders  int `json:"top_offenders,omitempty"`
	SampleCallIDs int `json:"sample_call_ids,omitempty"`
	// PrefixDigits, when > 0, also keys the call rules (failure_spike,
	// low_mos, one_way_audio, no_media, long_pdd) by the first this many
	// characters of the dialled number (To user), e.g. 4 for "0044".
	// 0 (the default) keys them globally and by destination IP only.
	PrefixDigits int `json:"prefix_digits,omitempty"`

	RegistrationStorm    RateConfig                 `json:"registration_storm"`
	RegistrationFailures RegistrationFailuresConfig `json:"registration_failures"`
	Scanner              ScannerConfig              `json:"scanner"`
	AuthBruteforce       AuthBruteforceConfig       `json:"auth_bruteforce"`
	InviteFlood          RateConfig                 `json:"invite_flood"`
	FailureSpike         FailureSpikeConfig         `json:"failure_spike"`
	LowMOS               LowMOSConfig               `json:"low_mos"`
	OneWayAudio          FindingConfig              `json:"one_way_audio"`
	NoMedia              FindingConfig              `json:"no_media"`
	LongPDD              LongPDDConfig              `json:"long_pdd"`
}

// maxSlots bounds Window/Interval: each windowed counter is a ring of
// this many interval slots.
const maxSlots = 32

// DefaultScannerUserAgents are substrings (any case) of the User-Agent
// headers of common SIP scanning tools.
func DefaultScannerUserAgents() []string {
	return []string{"friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sundayddr", "iwar",
		"vaxsipuseragent", "pplsip", "siparmyknife", "smap"}
}

// DefaultConfig returns the defaults: quiet on ordinary traffic, firing on
// the incidents the rules describe.
func DefaultConfig() Config {
	m := func(d time.Duration) Duration { return Duration(d) }
	return Config{
		Interval:      m(10 * time.Second),
		MaxKeys:       10000,
		MaxCalls:      1 << 16,
		MaxAlerts:     1000,
		ResolveAfter:  m(30 * time.Second),
		ClearRatio:    0.8,
		TopOffenders:  5,
		SampleCallIDs: 10,
		RegistrationStorm: RateConfig{
			Common: Common{Severity: SeverityCritical, Window: m(time.Minute)},
			Factor: 10, MinRate: 20, MinKeyRate: 20, BaselineWindow: m(30 * time.Minute),
		},
		RegistrationFailures: RegistrationFailuresConfig{
			Common:   Common{Severity: SeverityWarning, Window: m(5 * time.Minute)},
			MinShare: 0.3, MinRegistrations: 50,
		},
		Scanner: ScannerConfig{
			Common:     Common{Severity: SeverityWarning, Window: m(5 * time.Minute)},
			UserAgents: DefaultScannerUserAgents(), MinDistinctUsers: 100, MinFailureShare: 0.5,
		},
		AuthBruteforce: AuthBruteforceConfig{
			Common:      Common{Severity: SeverityCritical, Window: m(5 * time.Minute)},
			MinFailures: 20,
		},
		InviteFlood: RateConfig{
			Common: Common{Severity: SeverityCritical, Window: m(time.Minute)},
			Factor: 10, MinRate: 50, MinKeyRate: 20, BaselineWindow: m(30 * time.Minute),
		},
		FailureSpike: FailureSpikeConfig{
			Common:   Common{Severity: SeverityCritical, Window: m(5 * time.Minute)},
			MinCalls: 30, Drop: 0.3, BaselineWindow: m(time.Hour),
		},
		LowMOS: LowMOSConfig{
			Common:   Common{Severity: SeverityWarning, Window: m(5 * time.Minute)},
			MOSBelow: 3.1, MinShare: 0.2, MinCalls: 10,
		},
		OneWayAudio: FindingConfig{
			Common:   Common{Severity: SeverityWarning, Window: m(5 * time.Minute)},
			MinCalls: 3, MinShare: 0.1,
		},
		NoMedia: FindingConfig{
			Common:   Common{Severity: SeverityWarning, Window: m(5 * time.Minute)},
			MinCalls: 3, MinShare: 0.1,
		},
		LongPDD: LongPDDConfig{
			Common:     Common{Severity: SeverityWarning, Window: m(5 * time.Minute)},
			P95AboveMs: 6000, MinCalls: 20,
		},
	}
}

// WithDefaults fills every zero field from DefaultConfig, so a config file
// names only what it changes ("disabled" and lists stay as given).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	setD := func(v *Duration, def Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setC := func(v *Common, def Common) {
		if v.Severity == "" {
			v.Severity = def.Severity
		}
		setD(&v.Window, def.Window)
	}
	setD(&c.Interval, d.Interval)
	setI(&c.MaxKeys, d.MaxKeys)
	setI(&c.MaxCalls, d.MaxCalls)
	setI(&c.MaxAlerts, d.MaxAlerts)
	setD(&c.ResolveAfter, d.ResolveAfter)
	setF(&c.ClearRatio, d.ClearRatio)
	setI(&c.TopOffenders, d.TopOffenders)
	setI(&c.SampleCallIDs, d.SampleCallIDs)
	for _, r := range []struct{ v, def *RateConfig }{{&c.RegistrationStorm, &d.RegistrationStorm}, {&c.InviteFlood, &d.InviteFlood}} {
		setC(&r.v.Common, r.def.Common)
		setF(&r.v.Factor, r.def.Factor)
		setF(&r.v.MinRate, r.def.MinRate)
		setF(&r.v.MinKeyRate, r.def.MinKeyRate)
		setD(&r.v.BaselineWindow, r.def.BaselineWindow)
	}
	setC(&c.RegistrationFailures.Common, d.RegistrationFailures.Common)
	setF(&c.RegistrationFailures.MinShare, d.RegistrationFailures.MinShare)
	setI(&c.RegistrationFailures.MinRegistrations, d.RegistrationFailures.MinRegistrations)
	setC(&c.Scanner.Common, d.Scanner.Common)
	if c.Scanner.UserAgents == nil {
		c.Scanner.UserAgents = d.Scanner.UserAgents
	}
	setI(&c.Scanner.MinDistinctUsers, d.Scanner.MinDistinctUsers)
	setF(&c.Scanner.MinFailureShare, d.Scanner.MinFailureShare)
	setC(&c.AuthBruteforce.Common, d.AuthBruteforce.Common)
	setI(&c.AuthBruteforce.MinFailures, d.AuthBruteforce.MinFailures)
	setC(&c.FailureSpike.Common, d.FailureSpike.Common)
	setI(&c.FailureSpike.MinCalls, d.FailureSpike.MinCalls)
	setF(&c.FailureSpike.Drop, d.FailureSpike.Drop)
	setD(&c.FailureSpike.BaselineWindow, d.FailureSpike.BaselineWindow)
	setC(&c.LowMOS.Common, d.LowMOS.Common)
	setF(&c.LowMOS.MOSBelow, d.LowMOS.MOSBelow)
	setF(&c.LowMOS.MinShare, d.LowMOS.MinShare)
	setI(&c.LowMOS.MinCalls, d.LowMOS.MinCalls)
	for _, r := range []struct{ v, def *FindingConfig }{{&c.OneWayAudio, &d.OneWayAudio}, {&c.NoMedia, &d.NoMedia}} {
		setC(&r.v.Common, r.def.Common)
		setI(&r.v.MinCalls, r.def.MinCalls)
		setF(&r.v.MinShare, r.def.MinShare)
	}
	setC(&c.LongPDD.Common, d.LongPDD.Common)
	setF(&c.LongPDD.P95AboveMs, d.LongPDD.P95AboveMs)
	setI(&c.LongPDD.MinCalls, d.LongPDD.MinCalls)
	return c
}

// Validate names the first bad field. Call it on the result of
// WithDefaults.
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s must be %s, got %v", ErrBadConfig, field, want, v)
	}
	iv := time.Duration(c.Interval)
	if iv < time.Second {
		return bad("interval", iv, ">= 1s")
	}
	if c.MaxKeys < 1 {
		return bad("max_keys", c.MaxKeys, ">= 1")
	}
	if c.MaxCalls < 1 {
		return bad("max_calls", c.MaxCalls, ">= 1")
	}
	if c.MaxAlerts < 1 {
		return bad("max_alerts", c.MaxAlerts, ">= 1")
	}
	if c.ResolveAfter < 0 {
		return bad("resolve_after", time.Duration(c.ResolveAfter), ">= 0")
	}
	if c.ClearRatio <= 0 || c.ClearRatio > 1 {
		return bad("clear_ratio", c.ClearRatio, "in (0, 1]")
	}
	if c.TopOffenders < 1 || c.TopOffenders > sketchSize {
		return bad("top_offenders", c.TopOffenders, fmt.Sprintf("in [1, %d]", sketchSize))
	}
	if c.PrefixDigits < 0 || c.PrefixDigits > 32 {
		return bad("prefix_digits", c.PrefixDigits, "in [0, 32]")
	}
	if c.SampleCallIDs < 0 || c.SampleCallIDs > 100 {
		return bad("sample_call_ids", c.SampleCallIDs, "in [0, 100]")
	}
	commons := []struct {
		name string
		c    Common
	}{
		{RuleRegistrationStorm, c.RegistrationStorm.Common}, {RuleRegistrationFailures, c.RegistrationFailures.Common},
		{RuleScanner, c.Scanner.Common}, {RuleAuthBruteforce, c.AuthBruteforce.Common},
		{RuleInviteFlood, c.InviteFlood.Common}, {RuleFailureSpike, c.FailureSpike.Common},
		{RuleLowMOS, c.LowMOS.Common}, {RuleOneWayAudio, c.OneWayAudio.Common},
		{RuleNoMedia, c.NoMedia.Common}, {RuleLongPDD, c.LongPDD.Common},
	}
	for _, r := range commons {
		switch r.c.Severity {
		case SeverityInfo, SeverityWarning, SeverityCritical:
		default:
			return bad(r.name+".severity", r.c.Severity, "info, warning or critical")
		}
		w := time.Duration(r.c.Window)
		if w < iv || w > maxSlots*iv || w%iv != 0 {
			return bad(r.name+".window", w, fmt.Sprintf("a multiple of interval (%v) up to %d intervals", iv, maxSlots))
		}
	}
	for _, r := range []struct {
		name string
		v    RateConfig
	}{{RuleRegistrationStorm, c.RegistrationStorm}, {RuleInviteFlood, c.InviteFlood}} {
		if r.v.Factor < 1 {
			return bad(r.name+".factor", r.v.Factor, ">= 1")
		}
		if r.v.MinRate <= 0 {
			return bad(r.name+".min_rate", r.v.MinRate, "> 0")
		}
		if r.v.MinKeyRate <= 0 {
			return bad(r.name+".min_key_rate", r.v.MinKeyRate, "> 0")
		}
		if r.v.BaselineWindow < r.v.Window {
			return bad(r.name+".baseline_window", time.Duration(r.v.BaselineWindow), ">= window")
		}
	}
	shares := []struct {
		name string
		v    float64
	}{
		{"registration_failures.min_share", c.RegistrationFailures.MinShare},
		{"scanner.min_failure_share", c.Scanner.MinFailureShare},
		{"failure_spike.drop", c.FailureSpike.Drop},
		{"low_mos.min_share", c.LowMOS.MinShare},
		{"one_way_audio.min_share", c.OneWayAudio.MinShare},
		{"no_media.min_share", c.NoMedia.MinShare},
	}
	for _, s := range shares {
		if s.v <= 0 || s.v > 1 {
			return bad(s.name, s.v, "in (0, 1]")
		}
	}
	counts := []struct {
		name string
		v    int
	}{
		{"registration_failures.min_registrations", c.RegistrationFailures.MinRegistrations},
		{"scanner.min_distinct_users", c.Scanner.MinDistinctUsers},
		{"auth_bruteforce.min_failures", c.AuthBruteforce.MinFailures},
		{"failure_spike.min_calls", c.FailureSpike.MinCalls},
		{"low_mos.min_calls", c.LowMOS.MinCalls},
		{"one_way_audio.min_calls", c.OneWayAudio.MinCalls},
		{"no_media.min_calls", c.NoMedia.MinCalls},
		{"long_pdd.min_calls", c.LongPDD.MinCalls},
	}
	for _, n := range counts {
		if n.v < 1 {
			return bad(n.name, n.v, ">= 1")
		}
	}
	if c.Scanner.MinDistinctUsers > maxDistinct {
		return bad("scanner.min_distinct_users", c.Scanner.MinDistinctUsers, fmt.Sprintf("<= %d", maxDistinct))
	}
	for i, ua := range c.Scanner.UserAgents {
		if strings.TrimSpace(ua) == "" {
			return bad(fmt.Sprintf("scanner.user_agents[%d]", i), ua, "a non-empty string")
		}
	}
	if c.FailureSpike.BaselineWindow < c.FailureSpike.Window {
		return bad("failure_spike.baseline_window", time.Duration(c.FailureSpike.BaselineWindow), ">= window")
	}
	if c.LowMOS.MOSBelow <= 1 || c.LowMOS.MOSBelow > 5 {
		return bad("low_mos.mos_below", c.LowMOS.MOSBelow, "in (1, 5]")
	}
	if c.LongPDD.P95AboveMs <= 0 {
		return bad("long_pdd.p95_above_ms", c.LongPDD.P95AboveMs, "> 0")
	}
	return nil
}
