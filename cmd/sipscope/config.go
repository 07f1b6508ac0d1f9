package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/alert/webhook"
	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/hepsend"
	"github.com/sipscope/sipscope/internal/jsonconf"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage/backend"
)

// serveConfig is everything `sipscope serve` is told, from its JSON config
// file and its flags: every flag has a key of the same name (dashes become
// underscores), and a flag given on the command line wins over the file.
// The keys are a public contract: add, never rename.
type serveConfig struct {
	Data      string            `json:"data"`
	Listen    string            `json:"listen"`
	Ifaces    []string          `json:"iface"`
	HEPListen string            `json:"hep_listen"`
	NoEBPF    bool              `json:"no_ebpf"`
	Flush     jsonconf.Duration `json:"flush"`
	SnapLen   int               `json:"snaplen"`
	RingMB    int               `json:"ring_mb"`
	Promisc   bool              `json:"promisc"`
	Fanout    int               `json:"fanout"`
	Import    []string          `json:"import"`
	NoResume  bool              `json:"no_resume"`

	// The API's access: auth (""/"none"), TLS, who reads /metrics and the
	// health checks, the Host names accepted while running open.
	Auth          string   `json:"auth"`
	TLSCert       string   `json:"tls_cert"`
	TLSKey        string   `json:"tls_key"`
	MetricsAccess string   `json:"metrics_access"`
	HealthAccess  string   `json:"health_access"`
	AllowedHosts  []string `json:"allowed_hosts"`

	// Alert rules, and where alerts are sent.
	Alerts        alert.Config     `json:"alerts"`
	AlertWebhooks []webhook.Target `json:"alert_webhooks"`

	// The HEP listener's limits and access control.
	HEPMaxConns          int               `json:"hep_max_conns"`
	HEPMaxConnsPerSource int               `json:"hep_max_conns_per_source"`
	HEPIdleTimeout       jsonconf.Duration `json:"hep_idle_timeout"`
	HEPReadTimeout       jsonconf.Duration `json:"hep_read_timeout"`
	HEPReadBuffer        int               `json:"hep_read_buffer"`
	HEPListenAuthKey     string            `json:"hep_listen_auth_key"`
	HEPAllow             []string          `json:"hep_allow"`

	// Memory bounds of the live pipeline.
	MaxDialogs       int `json:"max_dialogs"`
	MaxRegistrations int `json:"max_registrations"`
	MaxStreams       int `json:"max_streams"`
	// MemoryLimitMB is the Go runtime's soft memory limit: near it the
	// garbage collector works harder instead of the heap growing, so a
	// flood that fills the dialog table stays under the RSS the caps are
	// sized for. 0: 1200; -1: none. GOMEMLIMIT in the environment wins.
	MemoryLimitMB int `json:"memory_limit_mb"`

	SpoolDir      string            `json:"spool_dir"`
	SpoolSizeMB   float64           `json:"spool_size_mb"`
	SpoolInterval jsonconf.Duration `json:"spool_interval"`
	SpoolKeepMB   float64           `json:"spool_keep_mb"`

	// hep_send, hep_node_id, hep_node_name, hep_auth_key, hep_send_rtcp,
	// hep_send_stats: agent mode.
	hepsend.Config

	// clickhouse, clickhouse_cluster: which store.
	storeConfig
}

// storeConfig chooses the store (backend.Config); embedded under this name
// so that its keys sit at the top level beside hepsend.Config's.
type storeConfig = backend.Config

// storeRTP is the store_rtp mode (valid after Validate).
func (c serveConfig) storeRTP() pipeline.StoreRTP {
	m, _ := pipeline.ParseStoreRTP(c.StoreRTP)
	return m
}

func defaultServeConfig() serveConfig {
	return serveConfig{
		Data:          "./sipscope-data",
		Listen:        "127.0.0.1:8080",
		Flush:         jsonconf.Duration(time.Second),
		Fanout:        1,
		SpoolSizeMB:   100,
		SpoolInterval: jsonconf.Duration(time.Hour),
		SpoolKeepMB:   10000,
		storeConfig:   storeConfig{SpoolStoreMB: 1000, StoreRTP: "full"},
	}
}

// serveFlags binds the flags of serve to c's fields; the defaults shown
// are c's values.
func serveFlags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.String("config", "", "JSON config file: every flag below has a key of its name with _ for - (iface and import take lists); flags override it")
	fs.StringVar(&c.Data, "data", c.Data, "data directory of the embedded ClickHouse store")
	fs.StringVar(&c.Listen, "listen", c.Listen, "HTTP listen address of the API and UI")
	fs.Func("iface", "capture live on these interfaces (comma-separated), AF_PACKET with the eBPF filter", func(v string) error {
		c.Ifaces = jsonconf.SplitList(v)
		return nil
	})
	fs.StringVar(&c.HEPListen, "hep-listen", c.HEPListen, "receive HEP, e.g. udp://127.0.0.1:9060,tcp://127.0.0.1:9060")
	fs.BoolVar(&c.NoEBPF, "no-ebpf", c.NoEBPF, "use the classic BPF filter instead of the eBPF program")
	fs.Var(&c.Flush, "flush", "how often live news is written to the store")
	fs.IntVar(&c.SnapLen, "snaplen", c.SnapLen, "bytes kept of each captured packet (0: 65535)")
	fs.IntVar(&c.RingMB, "ring-mb", c.RingMB, "AF_PACKET ring memory per socket in MiB: 2 to 64 in 16 blocks, more in 4 MiB blocks (0: 64)")
	fs.BoolVar(&c.Promisc, "promisc", c.Promisc, "put capture interfaces in promiscuous mode (a SPAN port needs it)")
	fs.IntVar(&c.Fanout, "fanout", c.Fanout, "sockets per interface sharing its packets by flow (PACKET_FANOUT), each read by its own goroutine")
	fs.Func("import", "capture file to import before serving (repeatable)", func(v string) error {
		c.Import = append(c.Import, v)
		return nil
	})
	fs.BoolVar(&c.NoResume, "no-resume", c.NoResume, "start with no call in progress instead of continuing the calls the store holds as open")
	fs.StringVar(&c.Auth, "auth", c.Auth, `"none" serves the API and UI without users even on a non-loopback address (with a warning); "" needs users there`)
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate: serve HTTPS (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key of --tls-cert")
	fs.StringVar(&c.MetricsAccess, "metrics-access", c.MetricsAccess, `who may read /metrics: "open" (default) or "token"`)
	fs.StringVar(&c.HealthAccess, "health-access", c.HealthAccess, `who may read /healthz: "open" (default) or "token"`)
	fs.Func("allowed-hosts", "Host names (comma-separated) the API accepts while it runs open on loopback (default localhost, 127.0.0.1, ::1)", func(v string) error {
		c.AllowedHosts = jsonconf.SplitList(v)
		return nil
	})
	fs.Func("alert-webhook", "POST every alert that fires or resolves to this URL as JSON (repeatable; config alert_webhooks also takes slack and alertmanager formats)", func(v string) error {
		c.AlertWebhooks = append(c.AlertWebhooks, webhook.Target{URL: v})
		return nil
	})
	fs.IntVar(&c.HEPMaxConns, "hep-max-conns", c.HEPMaxConns, "HEP over TCP: connections open at once, from all sources (0: 256)")
	fs.IntVar(&c.HEPMaxConnsPerSource, "hep-max-conns-per-source", c.HEPMaxConnsPerSource, "HEP over TCP: connections open at once from one address, an IPv6 /64 (0: 8)")
	fs.Var(&c.HEPIdleTimeout, "hep-idle-timeout", "HEP over TCP: close a connection silent this long (0: 5m)")
	fs.Var(&c.HEPReadTimeout, "hep-read-timeout", "HEP over TCP: close a connection whose packet takes longer than this to arrive (0: 30s)")
	fs.IntVar(&c.HEPReadBuffer, "hep-read-buffer", c.HEPReadBuffer, "HEP over UDP: socket receive buffer in bytes, raised past rmem_max as root (0: 8 MiB)")
	fs.StringVar(&c.HEPListenAuthKey, "hep-listen-auth-key", c.HEPListenAuthKey, "accept only HEP packets carrying this auth key (chunk 14); others are counted and dropped")
	fs.Func("hep-allow", "accept HEP only from these addresses or CIDRs (comma-separated); others are counted and refused", func(v string) error {
		c.HEPAllow = jsonconf.SplitList(v)
		return nil
	})
	fs.IntVar(&c.MaxDialogs, "max-dialogs", c.MaxDialogs, "Call-IDs held at once (calls, registrations, others); the idle longest is evicted beyond it (0: 262144, about 1.2 KB each)")
	fs.IntVar(&c.MaxRegistrations, "max-registrations", c.MaxRegistrations, "registrations held at once, within max-dialogs (0: 65536)")
	fs.IntVar(&c.MaxStreams, "max-streams", c.MaxStreams, "RTP streams held at once (0: 100000, about 4 KB each)")
	fs.IntVar(&c.MemoryLimitMB, "memory-limit-mb", c.MemoryLimitMB, "soft limit in MiB of the Go heap and runtime (the embedded ClickHouse comes on top); the GC works harder near it (0: 1200, -1: none; GOMEMLIMIT wins)")
	fs.StringVar(&c.SpoolDir, "spool-dir", c.SpoolDir, "also write every frame captured on --iface to rotating pcap files in this directory")
	fs.Float64Var(&c.SpoolSizeMB, "spool-size", c.SpoolSizeMB, "start the next spool file at this size, in MB (10^6 bytes); config key spool_size_mb")
	fs.Var(&c.SpoolInterval, "spool-interval", "also start the next spool file at every multiple of this in UTC (0: by size only)")
	fs.Float64Var(&c.SpoolKeepMB, "spool-keep-mb", c.SpoolKeepMB, "disk bound of the spool in MB: the oldest files are deleted first")
	c.Config.AddFlags(fs)
	c.storeConfig.AddFlags(fs)
	return fs
}

// parseServeArgs reads the flags over the config file (--config), so a
// flag given on the command line wins over the file's key. Positional
// arguments are more files to import.
func parseServeArgs(args []string) (serveConfig, error) {
	c := defaultServeConfig()
	fs := serveFlags(&c)
	if _, err := parseArgs(fs, args); err != nil {
		return c, err
	}
	if path := fs.Lookup("config").Value.String(); path != "" {
		c = defaultServeConfig()
		if err := jsonconf.Load(path, &c); err != nil {
			return c, err
		}
		fs = serveFlags(&c)
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return c, err
	}
	c.Import = append(c.Import, rest...) // "serve --import a.pcap b.pcap"
	return c, c.Validate()
}

// Validate names the first setting that cannot work.
func (c serveConfig) Validate() error {
	if c.Listen == "" {
		return errors.New("listen: need an address")
	}
	if c.Data == "" {
		return errors.New("data: need a directory")
	}
	if c.Flush <= 0 {
		return fmt.Errorf("flush %v: want more than 0", time.Duration(c.Flush))
	}
	if err := c.apiConfig().Validate(); err != nil {
		return err
	}
	if err := c.Alerts.WithDefaults().Validate(); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if err := c.webhooks().Validate(); err != nil {
		return fmt.Errorf("alert_webhooks: %w", err)
	}
	if c.MemoryLimitMB < -1 {
		return fmt.Errorf("memory_limit_mb %d: want -1 (none), 0 (1200) or a size in MiB", c.MemoryLimitMB)
	}
	if c.Fanout < 1 || c.Fanout > 64 {
		return fmt.Errorf("fanout %d: want 1 to 64", c.Fanout)
	}
	if _, err := pipeline.ParseStoreRTP(c.StoreRTP); err != nil {
		return err
	}
	if err := c.storeConfig.Validate(); err != nil {
		return err
	}
	_, err := c.liveOptions()
	return err
}

// webhooks is the notifier's configuration.
func (c serveConfig) webhooks() webhook.Config {
	return webhook.Config{Targets: c.AlertWebhooks}.WithDefaults()
}

// apiConfig is the API server's part of c.
func (c serveConfig) apiConfig() api.Config {
	return api.Config{Listen: c.Listen, AuthMode: c.Auth, TLSCert: c.TLSCert, TLSKey: c.TLSKey,
		MetricsAccess: c.MetricsAccess, HealthAccess: c.HealthAccess, AllowedHosts: c.AllowedHosts}
}

// liveOptions is what the live runner is told; it checks what the capture
// would refuse.
func (c serveConfig) liveOptions() (pipeline.LiveOptions, error) {
	o := pipeline.LiveOptions{
		Ifaces: c.Ifaces, FlushEvery: time.Duration(c.Flush), NoEBPF: c.NoEBPF,
		SnapLen: c.SnapLen, Promisc: c.Promisc, Fanout: c.Fanout, NoResume: c.NoResume, MaxStreams: c.MaxStreams,
		HEP: capture.HEPConfig{
			MaxTCPConns: c.HEPMaxConns, MaxTCPConnsPerSource: c.HEPMaxConnsPerSource,
			IdleTimeout: time.Duration(c.HEPIdleTimeout), ReadTimeout: time.Duration(c.HEPReadTimeout),
			ReadBuffer: c.HEPReadBuffer, AuthKey: c.HEPListenAuthKey, Allow: c.HEPAllow,
		},
		Correlate: correlate.DefaultConfig(),
		StoreRTP:  c.storeRTP(),
	}
	if c.MaxDialogs != 0 {
		o.Correlate.MaxDialogs = c.MaxDialogs
	}
	if c.MaxRegistrations != 0 {
		o.Correlate.MaxRegistrations = c.MaxRegistrations
	}
	if err := o.Correlate.Validate(); err != nil {
		return o, fmt.Errorf("max-dialogs, max-registrations: %w", err)
	}
	if len(o.HEPUDP)+len(o.HEPTCP) > 0 {
		hc := o.HEP
		hc.UDP, hc.TCP = o.HEPUDP, o.HEPTCP
		if err := hc.Validate(); err != nil {
			return o, fmt.Errorf("hep-*: %w", err)
		}
	}
	var err error
	if c.RingMB != 0 {
		if o.BlockSize, o.NumBlocks, err = pipeline.RingGeometry(c.RingMB); err != nil {
			return o, err
		}
	}
	if o.HEPUDP, o.HEPTCP, err = pipeline.ParseHEPListen(c.HEPListen); err != nil {
		return o, err
	}
	if c.SpoolDir != "" {
		if len(o.Ifaces) == 0 || c.SpoolSizeMB <= 0 || c.SpoolKeepMB <= 0 {
			return o, errors.New("--spool-dir needs --iface (HEP is not spooled), --spool-size and --spool-keep-mb above 0")
		}
		o.Spool = &capture.SpoolConfig{Dir: c.SpoolDir, FileSize: int64(c.SpoolSizeMB * 1e6), Interval: time.Duration(c.SpoolInterval),
			KeepBytes: int64(c.SpoolKeepMB * 1e6), SnapLen: c.SnapLen}
		if err := o.Spool.Validate(); err != nil {
			return o, fmt.Errorf("--spool-*: %w", err)
		}
	}
	return o, nil
}

// defaultMemoryLimitMB leaves a 2 GB box room for chDB and the page cache
// beside a dialog table filled to its default cap.
const defaultMemoryLimitMB = 1200

// memoryLimit is the soft limit in bytes to set, or 0 for none: an
// explicit GOMEMLIMIT (already applied by the runtime) wins.
func (c serveConfig) memoryLimit(env string) int64 {
	if env != "" || c.MemoryLimitMB < 0 {
		return 0
	}
	mb := c.MemoryLimitMB
	if mb == 0 {
		mb = defaultMemoryLimitMB
	}
	return int64(mb) << 20
}
