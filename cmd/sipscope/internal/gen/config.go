package gen

import (
	"fmt"
	"slices"
	"time"
)

// Scenario names one SIP exchange the generator can play.
type Scenario string

// Scenarios, in the order the default Mix cycles through them.
const (
	// ScenarioAnswered: INVITE (SDP offer), 100, 180, 200 (SDP answer), ACK,
	// G.711 RTP both ways for CallDuration, BYE, 200.
	ScenarioAnswered Scenario = "answered"
	// ScenarioBusy: INVITE, 100, 486 Busy Here, ACK.
	ScenarioBusy Scenario = "busy"
	// ScenarioCancelled: INVITE, 100, 180, CANCEL, 200 (CANCEL), 487, ACK.
	ScenarioCancelled Scenario = "cancelled"
	// ScenarioRegister: REGISTER, 401 with a digest challenge, REGISTER with
	// Authorization (CSeq+1), 200 OK with Contact and expires.
	ScenarioRegister Scenario = "register"
	// ScenarioNoFinal: INVITE, 100 Trying, then nothing, as when the callee
	// vanishes mid-setup.
	ScenarioNoFinal Scenario = "no_final"
)

// AllScenarios returns every scenario, in the default Mix order.
func AllScenarios() []Scenario {
	return []Scenario{ScenarioAnswered, ScenarioBusy, ScenarioCancelled, ScenarioRegister, ScenarioNoFinal}
}

// Codec values for Config.Codec.
const (
	CodecPCMU = "PCMU"
	CodecPCMA = "PCMA"
	// CodecMix alternates PCMU (even call index) and PCMA (odd call index).
	CodecMix = "mix"
)

// Transport values for Config.Transport.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
)

// Defaults applied to zero Config fields.
const (
	DefaultCallDuration = 2 * time.Second
	DefaultPtime        = 20 * time.Millisecond
	DefaultSIPPort      = 5060
	DefaultBurstLen     = 1
)

// Limits that keep a capture's size and the loss model sane.
const (
	MaxCalls        = 10000
	MaxCallDuration = 10 * time.Minute
	MaxLossPct      = 50
	MaxJitterMs     = 1000
	MaxLateMs       = 5000
)

// Config says what capture to generate. Zero fields take the defaults noted.
type Config struct {
	// Calls is how many scenarios are played, cycling through Mix (a
	// registration counts as one). Must be at least 1.
	Calls int `json:"calls"`
	// Seed makes the output reproducible: same Config, same bytes.
	Seed uint64 `json:"seed"`
	// LossPct is the share of RTP packets dropped before capture (never SIP),
	// in percent, 0 to MaxLossPct. The first and last packet of each stream
	// are never dropped so expected = last seq - first seq + 1 is exact.
	LossPct float64 `json:"loss_pct"`
	// BurstLen is the mean length of a loss burst (Gilbert model); 1 (or 0)
	// gives independent random loss.
	BurstLen int `json:"burst_len"`
	// JitterMs is the maximum extra arrival delay of an RTP packet, drawn
	// uniformly from [0, JitterMs]. Above Ptime packets can reorder.
	JitterMs float64 `json:"jitter_ms"`
	// LatePct is the share of RTP packets (in percent) that arrive LateMs
	// later still, on top of jitter: reordering when LateMs > Ptime.
	LatePct float64 `json:"late_pct"`
	// LateMs is the extra delay of a late packet.
	LateMs float64 `json:"late_ms"`
	// CallDuration is the media duration of each answered call
	// (DefaultCallDuration).
	CallDuration time.Duration `json:"call_duration_ns"`
	// Ptime is the RTP packetisation interval (DefaultPtime), a whole number
	// of milliseconds from 10 to 60.
	Ptime time.Duration `json:"ptime_ns"`
	// Codec is CodecPCMU (default), CodecPCMA or CodecMix.
	Codec string `json:"codec"`
	// Mix lists the scenarios to cycle through (default AllScenarios()).
	Mix []Scenario `json:"mix"`
	// SIPPort is the port every SIP endpoint listens on (DefaultSIPPort).
	SIPPort uint16 `json:"sip_port"`
	// AltSIPPort, when set, replaces SIPPort for every second cycle through
	// Mix, so a capture holds SIP on a port no dissector assumes (e.g. 5080)
	// and detection must go by content.
	AltSIPPort uint16 `json:"alt_sip_port,omitempty"`
	// Transport is TransportUDP (default) or TransportTCP (one SIP message
	// per segment, one connection per endpoint pair, opened with a handshake).
	Transport string `json:"transport"`
}

func (c Config) withDefaults() Config {
	if c.BurstLen == 0 {
		c.BurstLen = DefaultBurstLen
	}
	if c.CallDuration == 0 {
		c.CallDuration = DefaultCallDuration
	}
	if c.Ptime == 0 {
		c.Ptime = DefaultPtime
	}
	if c.Codec == "" {
		c.Codec = CodecPCMU
	}
	if len(c.Mix) == 0 {
		c.Mix = AllScenarios()
	}
	if c.SIPPort == 0 {
		c.SIPPort = DefaultSIPPort
	}
	if c.Transport == "" {
		c.Transport = TransportUDP
	}
	return c
}

// Validate reports the first invalid field, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	// The range checks are written as !(in range) so that NaN fails them.
	switch {
	case c.Calls < 1 || c.Calls > MaxCalls:
		return fmt.Errorf("%w: Calls %d not in [1, %d]", ErrInvalidConfig, c.Calls, MaxCalls)
	case !(c.LossPct >= 0 && c.LossPct <= MaxLossPct):
		return fmt.Errorf("%w: LossPct %v not in [0, %d]", ErrInvalidConfig, c.LossPct, MaxLossPct)
	case c.BurstLen < 1:
		return fmt.Errorf("%w: BurstLen %d is negative (0 means the default, 1)", ErrInvalidConfig, c.BurstLen)
	case !(c.JitterMs >= 0 && c.JitterMs <= MaxJitterMs):
		return fmt.Errorf("%w: JitterMs %v not in [0, %d]", ErrInvalidConfig, c.JitterMs, MaxJitterMs)
	case !(c.LatePct >= 0 && c.LatePct <= 100):
		return fmt.Errorf("%w: LatePct %v not in [0, 100]", ErrInvalidConfig, c.LatePct)
	case !(c.LateMs >= 0 && c.LateMs <= MaxLateMs):
		return fmt.Errorf("%w: LateMs %v not in [0, %d]", ErrInvalidConfig, c.LateMs, MaxLateMs)
	case c.CallDuration < 0 || c.CallDuration > MaxCallDuration:
		return fmt.Errorf("%w: CallDuration %v not in [0, %v]", ErrInvalidConfig, c.CallDuration, MaxCallDuration)
	case c.Ptime < 10*time.Millisecond || c.Ptime > 60*time.Millisecond || c.Ptime%time.Millisecond != 0:
		return fmt.Errorf("%w: Ptime %v must be whole milliseconds in [10ms, 60ms]", ErrInvalidConfig, c.Ptime)
	case c.CallDuration < 2*c.Ptime:
		return fmt.Errorf("%w: CallDuration %v shorter than two Ptime", ErrInvalidConfig, c.CallDuration)
	case c.Codec != CodecPCMU && c.Codec != CodecPCMA && c.Codec != CodecMix:
		return fmt.Errorf("%w: Codec %q not one of %s, %s, %s", ErrInvalidConfig, c.Codec, CodecPCMU, CodecPCMA, CodecMix)
	case c.AltSIPPort != 0 && c.AltSIPPort == c.SIPPort:
		return fmt.Errorf("%w: AltSIPPort %d equals SIPPort", ErrInvalidConfig, c.AltSIPPort)
	case c.Transport != TransportUDP && c.Transport != TransportTCP:
		return fmt.Errorf("%w: Transport %q not one of %s, %s", ErrInvalidConfig, c.Transport, TransportUDP, TransportTCP)
	}
	for i, s := range c.Mix {
		if !knownScenario(s) {
			return fmt.Errorf("%w: Mix[%d] %q is not a scenario", ErrInvalidConfig, i, s)
		}
	}
	return nil
}

func knownScenario(s Scenario) bool {
	return slices.Contains(AllScenarios(), s)
}
