package webhook

import (
	"fmt"
	"net/url"
	"time"
)

// Payload formats.
const (
	FormatJSON         = "json"         // the alert as analyze --json writes it
	FormatSlack        = "slack"        // {"text": "..."} for Slack and compatible incoming webhooks
	FormatAlertmanager = "alertmanager" // the /api/v2/alerts array: labels, annotations, startsAt, endsAt
)

// Target is one receiver: an entry of the `alert_webhooks` config list
// (`--alert-webhook URL` gives one with the json format).
type Target struct {
	URL    string `json:"url"`
	Format string `json:"format,omitempty"` // json (default), slack or alertmanager
}

// Config sets the receivers and the delivery policy.
type Config struct {
	Targets []Target
	// QueueSize bounds the alerts waiting per receiver (default 1024).
	QueueSize int
	// MaxAttempts is the number of tries per alert (default 5); then it
	// is dropped and counted as failed.
	MaxAttempts int
	// Backoff is the wait after the first failed try, doubled after each
	// further one up to MaxBackoff (defaults 1 s and 30 s).
	Backoff, MaxBackoff time.Duration
	// Timeout bounds one HTTP request (default 10 s).
	Timeout time.Duration
	// DrainTimeout bounds the delivery of what is still queued when Run's
	// context ends (default 5 s).
	DrainTimeout time.Duration
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	set := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.QueueSize == 0 {
		c.QueueSize = 1024
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	set(&c.Backoff, time.Second)
	set(&c.MaxBackoff, 30*time.Second)
	set(&c.Timeout, 10*time.Second)
	set(&c.DrainTimeout, 5*time.Second)
	for i := range c.Targets {
		if c.Targets[i].Format == "" {
			c.Targets[i].Format = FormatJSON
		}
	}
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	for i, t := range c.Targets {
		u, err := url.Parse(t.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: alert_webhooks[%d].url %q is not an http(s) URL", ErrBadConfig, i, t.URL)
		}
		switch t.Format {
		case FormatJSON, FormatSlack, FormatAlertmanager:
		default:
			return fmt.Errorf("%w: alert_webhooks[%d].format %q is not json, slack or alertmanager", ErrBadConfig, i, t.Format)
		}
	}
	switch {
	case c.QueueSize < 1:
		return fmt.Errorf("%w: QueueSize must be >= 1, got %d", ErrBadConfig, c.QueueSize)
	case c.MaxAttempts < 1:
		return fmt.Errorf("%w: MaxAttempts must be >= 1, got %d", ErrBadConfig, c.MaxAttempts)
	case c.Backoff <= 0 || c.MaxBackoff < c.Backoff:
		return fmt.Errorf("%w: Backoff %v and MaxBackoff %v must be > 0 and ordered", ErrBadConfig, c.Backoff, c.MaxBackoff)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: Timeout must be > 0, got %v", ErrBadConfig, c.Timeout)
	case c.DrainTimeout < 0:
		return fmt.Errorf("%w: DrainTimeout must be >= 0, got %v", ErrBadConfig, c.DrainTimeout)
	}
	return nil
}
