package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/alert/webhook"
	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/hepsend"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/server"
)

// serveConfig is everything `sipscope serve` is told, from its JSON config
// file and its flags: every flag has a key of the same name (dashes become
// underscores), and a flag given on the command line wins over the file.
// The keys are a public contract: add, never rename.
type serveConfig struct {
	Data      string   `json:"data"`
	Listen    string   `json:"listen"`
	Ifaces    []string `json:"iface"`
	HEPListen string   `json:"hep_listen"`
	NoEBPF    bool     `json:"no_ebpf"`
	Flush     duration `json:"flush"`
	SnapLen   int      `json:"snaplen"`
	RingMB    int      `json:"ring_mb"`
	Promisc   bool     `json:"promisc"`
	Fanout    int      `json:"fanout"`
	Import    []string `json:"import"`
	NoResume  bool     `json:"no_resume"`

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
	HEPMaxConns          int      `json:"hep_max_conns"`
	HEPMaxConnsPerSource int      `json:"hep_max_conns_per_source"`
	HEPIdleTimeout       duration `json:"hep_idle_timeout"`
	HEPReadTimeout       duration `json:"hep_read_timeout"`
	HEPReadBuffer        int      `json:"hep_read_buffer"`
	HEPListenAuthKey     string   `json:"hep_listen_auth_key"`
	HEPAllow             []string `json:"hep_allow"`

	// Memory bounds of the live pipeline.
	MaxDialogs       int `json:"max_dialogs"`
	MaxRegistrations int `json:"max_registrations"`
	MaxStreams       int `json:"max_streams"`

	SpoolDir      string   `json:"spool_dir"`
	SpoolSizeMB   float64  `json:"spool_size_mb"`
	SpoolInterval duration `json:"spool_interval"`
	SpoolKeepMB   float64  `json:"spool_keep_mb"`

	// hep_send, hep_node_id, hep_node_name, hep_auth_key, hep_send_rtcp,
	// hep_send_stats: agent mode.
	hepsend.Config

	// clickhouse, clickhouse_cluster: which store.
	storeConfig
}

// storeConfig chooses the store serve and import write to: the embedded
// chDB in the data directory unless a ClickHouse server URL is given.
type storeConfig struct {
	ClickHouse        string `json:"clickhouse"`
	ClickHouseCluster string `json:"clickhouse_cluster"`
	// SpoolStoreMB bounds the disk spool (in the data directory) of live
	// batches the store did not take; 0 turns it off.
	SpoolStoreMB float64 `json:"spool_store_mb"`
	// Retention: days each table keeps (0 keeps for ever; registrations
	// follow calls) and the disk bound of all tables in GB (10^9 bytes).
	RetentionCallsDays    int     `json:"retention_calls_days"`
	RetentionMessagesDays int     `json:"retention_messages_days"`
	RetentionStreamsDays  int     `json:"retention_streams_days"`
	RetentionMaxGB        float64 `json:"retention_max_gb"`
	// StoreRTP is how much of each call's media is kept as captured
	// frames: full, headers (RTP payload left out) or none (SIP frames
	// only); RetentionPacketsDays is how long the frames are kept.
	StoreRTP             string `json:"store_rtp"`
	RetentionPacketsDays int    `json:"retention_packets_days"`
}

// storeRTP is the store_rtp mode (valid after Validate).
func (c storeConfig) storeRTP() pipeline.StoreRTP {
	m, _ := pipeline.ParseStoreRTP(c.StoreRTP)
	return m
}

// importOptions is what an import keeps besides the records.
func (c storeConfig) importOptions() pipeline.ImportOptions {
	return pipeline.ImportOptions{StoreRTP: c.storeRTP()}
}

// retention is the policy the retention keys make.
func (c storeConfig) retention() storage.RetentionPolicy {
	day := 24 * time.Hour
	return storage.RetentionPolicy{
		Calls: time.Duration(c.RetentionCallsDays) * day, Messages: time.Duration(c.RetentionMessagesDays) * day,
		Streams: time.Duration(c.RetentionStreamsDays) * day, MaxBytes: int64(c.RetentionMaxGB * 1e9),
		Packets: time.Duration(c.RetentionPacketsDays) * day,
	}
}

func (c *storeConfig) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.ClickHouse, "clickhouse", c.ClickHouse, "store in this ClickHouse server instead of the embedded one, e.g. clickhouse://user:pass@host:9000/sipscope?secure=true")
	fs.Float64Var(&c.SpoolStoreMB, "spool-store-mb", c.SpoolStoreMB, "disk bound in MB of the spool (in --data) that keeps live batches the store did not take until it does; 0: no spool, a failed write is lost")
	fs.IntVar(&c.RetentionCallsDays, "retention-calls-days", c.RetentionCallsDays, "drop calls and registrations older than this many days (0: keep)")
	fs.IntVar(&c.RetentionMessagesDays, "retention-messages-days", c.RetentionMessagesDays, "drop SIP messages older than this many days (0: keep)")
	fs.IntVar(&c.RetentionStreamsDays, "retention-streams-days", c.RetentionStreamsDays, "drop RTP stream records older than this many days (0: keep)")
	fs.StringVar(&c.StoreRTP, "store-rtp", c.StoreRTP, "media of each call kept as captured frames for its PCAP: full, headers (RTP payload left out) or none (SIP frames only)")
	fs.IntVar(&c.RetentionPacketsDays, "retention-packets-days", c.RetentionPacketsDays, "drop captured frames (SIP, RTP, RTCP) older than this many days (0: keep)")
	fs.Float64Var(&c.RetentionMaxGB, "retention-max-gb", c.RetentionMaxGB, "bound of the store's disk use in GB: the oldest days are dropped first (0: none)")
	fs.StringVar(&c.ClickHouseCluster, "clickhouse-cluster", c.ClickHouseCluster, "create the schema ON CLUSTER this remote_servers cluster (ReplicatedMergeTree + Distributed tables); needs --clickhouse")
}

// server is the ClickHouse server configuration, or false for the
// embedded store.
func (c storeConfig) server() (server.Config, bool, error) {
	if c.ClickHouse == "" {
		if c.ClickHouseCluster != "" {
			return server.Config{}, false, errors.New("clickhouse_cluster: needs clickhouse (a server URL)")
		}
		return server.Config{}, false, nil
	}
	sc, err := server.ParseURL(c.ClickHouse)
	if err != nil {
		return sc, false, fmt.Errorf("clickhouse: %w", err)
	}
	sc.Cluster = c.ClickHouseCluster
	sc.Policy = c.retention()
	if err := sc.Validate(); err != nil {
		return sc, false, fmt.Errorf("clickhouse_cluster: %w", err)
	}
	return sc, true, nil
}

func (c storeConfig) Validate() error {
	if c.SpoolStoreMB < 0 || c.SpoolStoreMB > 0 && c.SpoolStoreMB*1e6 < 64<<10 {
		return fmt.Errorf("spool_store_mb %v: want 0 (off) or at least 0.07", c.SpoolStoreMB)
	}
	for _, d := range []struct {
		key  string
		days int
	}{{"retention_calls_days", c.RetentionCallsDays}, {"retention_messages_days", c.RetentionMessagesDays}, {"retention_streams_days", c.RetentionStreamsDays}, {"retention_packets_days", c.RetentionPacketsDays}} {
		if d.days < 0 {
			return fmt.Errorf("%s %d: want 0 (keep) or more", d.key, d.days)
		}
	}
	if c.RetentionMaxGB < 0 {
		return fmt.Errorf("retention_max_gb %v: want 0 (no bound) or more", c.RetentionMaxGB)
	}
	if _, err := pipeline.ParseStoreRTP(c.StoreRTP); err != nil {
		return err
	}
	_, _, err := c.server()
	return err
}

func defaultServeConfig() serveConfig {
	return serveConfig{
		Data:          "./sipscope-data",
		Listen:        "127.0.0.1:8080",
		Flush:         duration(time.Second),
		Fanout:        1,
		SpoolSizeMB:   100,
		SpoolInterval: duration(time.Hour),
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
		c.Ifaces = splitList(v)
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
		c.AllowedHosts = splitList(v)
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
		c.HEPAllow = splitList(v)
		return nil
	})
	fs.IntVar(&c.MaxDialogs, "max-dialogs", c.MaxDialogs, "Call-IDs held at once (calls, registrations, others); the idle longest is evicted beyond it (0: 262144, about 1.2 KB each)")
	fs.IntVar(&c.MaxRegistrations, "max-registrations", c.MaxRegistrations, "registrations held at once, within max-dialogs (0: 65536)")
	fs.IntVar(&c.MaxStreams, "max-streams", c.MaxStreams, "RTP streams held at once (0: 100000, about 4 KB each)")
	fs.StringVar(&c.SpoolDir, "spool-dir", c.SpoolDir, "also write every frame captured on --iface to rotating pcap files in this directory")
	fs.Float64Var(&c.SpoolSizeMB, "spool-size", c.SpoolSizeMB, "start the next spool file at this size, in MB (10^6 bytes); config key spool_size_mb")
	fs.Var(&c.SpoolInterval, "spool-interval", "also start the next spool file at every multiple of this in UTC (0: by size only)")
	fs.Float64Var(&c.SpoolKeepMB, "spool-keep-mb", c.SpoolKeepMB, "disk bound of the spool in MB: the oldest files are deleted first")
	c.Config.AddFlags(fs)
	c.storeConfig.addFlags(fs)
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
		if err := loadJSONConfig(path, &c); err != nil {
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

// loadJSONConfig decodes path into c, refusing keys c does not have. A
// value that does not decode is reported with its key.
func loadJSONConfig[T any](path string, c *T) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := decodeStrict(b, c); err != nil {
		var keys map[string]json.RawMessage
		if json.Unmarshal(b, &keys) == nil {
			for k, v := range keys {
				var one T
				if kerr := decodeStrict([]byte(`{"`+k+`":`+string(v)+`}`), &one); kerr != nil {
					return fmt.Errorf("config %s in %s: %w", k, path, kerr)
				}
			}
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
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
	if c.Fanout < 1 || c.Fanout > 64 {
		return fmt.Errorf("fanout %d: want 1 to 64", c.Fanout)
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

// splitList splits "a, b,c" into its non-empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// duration is a time.Duration written "1s", "250ms" in the config file and
// on the command line.
type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }

func (d *duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"1s\": %w", err)
	}
	return d.Set(s)
}

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
