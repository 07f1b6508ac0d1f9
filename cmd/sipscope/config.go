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

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/hepsend"
	"github.com/sipscope/sipscope/pipeline"
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

	SpoolDir      string   `json:"spool_dir"`
	SpoolSizeMB   float64  `json:"spool_size_mb"`
	SpoolInterval duration `json:"spool_interval"`
	SpoolKeepMB   float64  `json:"spool_keep_mb"`

	// hep_send, hep_node_id, hep_node_name, hep_auth_key, hep_send_rtcp,
	// hep_send_stats: agent mode.
	hepsend.Config
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
	fs.StringVar(&c.SpoolDir, "spool-dir", c.SpoolDir, "also write every frame captured on --iface to rotating pcap files in this directory")
	fs.Float64Var(&c.SpoolSizeMB, "spool-size", c.SpoolSizeMB, "start the next spool file at this size, in MB (10^6 bytes); config key spool_size_mb")
	fs.Var(&c.SpoolInterval, "spool-interval", "also start the next spool file at every multiple of this in UTC (0: by size only)")
	fs.Float64Var(&c.SpoolKeepMB, "spool-keep-mb", c.SpoolKeepMB, "disk bound of the spool in MB: the oldest files are deleted first")
	c.Config.AddFlags(fs)
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
	if c.Fanout < 1 || c.Fanout > 64 {
		return fmt.Errorf("fanout %d: want 1 to 64", c.Fanout)
	}
	_, err := c.liveOptions()
	return err
}

// liveOptions is what the live runner is told; it checks what the capture
// would refuse.
func (c serveConfig) liveOptions() (pipeline.LiveOptions, error) {
	o := pipeline.LiveOptions{
		Ifaces: c.Ifaces, FlushEvery: time.Duration(c.Flush), NoEBPF: c.NoEBPF,
		SnapLen: c.SnapLen, Promisc: c.Promisc, Fanout: c.Fanout, NoResume: c.NoResume,
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
