package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/ui"
)

// storeWriter is what importing needs from a store.
type storeWriter interface {
	Write(ctx context.Context, b storage.Batch) error
}

// messageBatch bounds how many SIP messages are held before they are written.
const messageBatch = 50000

func cmdImport(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("need at least one capture file")
	}
	store, err := embedded.Open(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, f := range files {
		n, err := importFile(ctx, store, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "imported %s: %d calls\n", f, n)
	}
	return nil
}

// importFile runs the pipeline over one file and writes its records.
func importFile(ctx context.Context, store storeWriter, path string) (int, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages = true
	p := newPipeline(cfg)
	var writeErr error
	flush := func() {
		if msgs := p.corr.TakeMessages(); len(msgs) > 0 && writeErr == nil {
			writeErr = store.Write(ctx, storage.Batch{Messages: msgs})
		}
	}
	err = p.runSourceEach(src, func() {
		if p.corr.PendingMessages() >= messageBatch {
			flush()
		}
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	flush()
	if writeErr != nil {
		return 0, writeErr
	}
	streams := p.finishStreams(qualityOptions{g711PLC: true})
	calls := p.corr.Calls()
	applyCallMOS(calls, streams)
	b := storage.Batch{Calls: calls, Registrations: p.corr.Registrations(), Streams: streams}
	if err := store.Write(ctx, b); err != nil {
		return 0, err
	}
	return len(calls), nil
}

// serveConfig is the config file of sipscope serve (JSON); flags given on
// the command line override it.
type serveConfig struct {
	Data      string   `json:"data"`
	Listen    string   `json:"listen"`
	Ifaces    []string `json:"iface"`
	HEPListen string   `json:"hep_listen"`
	NoEBPF    bool     `json:"no_ebpf"`
	Flush     string   `json:"flush"`

	SpoolDir      string  `json:"spool_dir"`
	SpoolSizeMB   float64 `json:"spool_size_mb"`
	SpoolInterval string  `json:"spool_interval"`
	SpoolKeepMB   float64 `json:"spool_keep_mb"`

	// hep_send, hep_node_id, hep_node_name, hep_auth_key, hep_send_rtcp, hep_send_stats (hepsend.go)
	hepSendConfig
}

func loadServeConfig(path string) (serveConfig, error) {
	var c serveConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func cmdServe(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "JSON config file (keys: data, listen, iface, hep_listen, no_ebpf, flush, spool_dir, spool_size_mb, spool_interval, spool_keep_mb, hep_send, hep_node_id, hep_node_name, hep_auth_key, hep_send_rtcp, hep_send_stats); flags override it")
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP listen address of the API and UI")
	iface := fs.String("iface", "", "capture live on these interfaces (comma-separated), AF_PACKET with the eBPF filter")
	hepListen := fs.String("hep-listen", "", "receive HEP, e.g. udp://127.0.0.1:9060,tcp://127.0.0.1:9060")
	noEBPF := fs.Bool("no-ebpf", false, "use the classic BPF filter instead of the eBPF program")
	flush := fs.Duration("flush", time.Second, "how often live news is written to the store")
	snapLen := fs.Int("snaplen", 0, "bytes kept of each captured packet (0: 65535)")
	ringMB := fs.Int("ring-mb", 0, "AF_PACKET ring memory per socket in MiB: 2 to 64 in 16 blocks, more in 4 MiB blocks (0: 64)")
	promisc := fs.Bool("promisc", false, "put capture interfaces in promiscuous mode (a SPAN port needs it)")
	fanout := fs.Int("fanout", 1, "sockets per interface sharing its packets by flow (PACKET_FANOUT), each read by its own goroutine")
	spoolDir := fs.String("spool-dir", "", "also write every frame captured on --iface to rotating pcap files in this directory")
	spoolSize := fs.Float64("spool-size", 100, "start the next spool file at this size, in MB (10^6 bytes)")
	spoolInterval := fs.Duration("spool-interval", time.Hour, "also start the next spool file at every multiple of this in UTC (0: by size only)")
	spoolKeep := fs.Float64("spool-keep-mb", 10000, "disk bound of the spool in MB: the oldest files are deleted first")
	var hepOut hepSendConfig
	hepOut.addFlags(fs)
	var imports multiFlag
	fs.Var(&imports, "import", "capture file to import before serving (repeatable)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	imports = append(imports, rest...) // "serve --import a.pcap b.pcap"
	if *configPath != "" {
		c, err := loadServeConfig(*configPath)
		if err != nil {
			return err
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if c.Data != "" && !set["data"] {
			*dataDir = c.Data
		}
		if c.Listen != "" && !set["listen"] {
			*listen = c.Listen
		}
		if len(c.Ifaces) > 0 && !set["iface"] {
			*iface = strings.Join(c.Ifaces, ",")
		}
		if c.HEPListen != "" && !set["hep-listen"] {
			*hepListen = c.HEPListen
		}
		if c.NoEBPF && !set["no-ebpf"] {
			*noEBPF = true
		}
		hepOut.merge(c.hepSendConfig, set)
		if c.SpoolDir != "" && !set["spool-dir"] {
			*spoolDir = c.SpoolDir
		}
		if c.SpoolSizeMB != 0 && !set["spool-size"] {
			*spoolSize = c.SpoolSizeMB
		}
		if c.SpoolKeepMB != 0 && !set["spool-keep-mb"] {
			*spoolKeep = c.SpoolKeepMB
		}
		if c.SpoolInterval != "" && !set["spool-interval"] {
			if *spoolInterval, err = time.ParseDuration(c.SpoolInterval); err != nil {
				return fmt.Errorf("config spool_interval: %w", err)
			}
		}
		if c.Flush != "" && !set["flush"] {
			if *flush, err = time.ParseDuration(c.Flush); err != nil {
				return fmt.Errorf("config flush: %w", err)
			}
		}
	}
	if *fanout < 1 || *fanout > 64 {
		return fmt.Errorf("--fanout %d: want 1 to 64", *fanout)
	}
	live := liveOptions{flushEvery: *flush, noEBPF: *noEBPF, snapLen: *snapLen, promisc: *promisc, fanout: *fanout}
	if *ringMB != 0 {
		if live.blockSize, live.numBlocks, err = ringGeometry(*ringMB); err != nil {
			return err
		}
	}
	for _, i := range strings.Split(*iface, ",") {
		if i = strings.TrimSpace(i); i != "" {
			live.ifaces = append(live.ifaces, i)
		}
	}
	if live.hepUDP, live.hepTCP, err = parseHEPListen(*hepListen); err != nil {
		return err
	}
	if *spoolDir != "" {
		if len(live.ifaces) == 0 || *spoolSize <= 0 || *spoolKeep <= 0 {
			return errors.New("--spool-dir needs --iface (HEP is not spooled), --spool-size and --spool-keep-mb above 0")
		}
		live.spool = &capture.SpoolConfig{Dir: *spoolDir, FileSize: int64(*spoolSize * 1e6), Interval: *spoolInterval,
			KeepBytes: int64(*spoolKeep * 1e6), SnapLen: *snapLen}
		if err := live.spool.Validate(); err != nil {
			return fmt.Errorf("--spool-*: %w", err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := api.Config{Listen: *listen, UI: ui.Handler(), Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	if err := cfg.Validate(); err != nil {
		return err
	}
	sender, err := newHEPSender(hepOut, live.enabled(), logger, reg)
	if err != nil {
		return err
	}
	store, err := embedded.Open(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, f := range imports {
		n, err := importFile(ctx, store, f)
		if err != nil {
			return err
		}
		logger.Info("imported", "file", f, "calls", n)
	}
	g, gctx := errgroup.WithContext(ctx)
	if live.enabled() {
		runner := newLiveRunner(live, store, logger, reg)
		cfg.Status = func() any { return runner.status() }
		if err := runner.open(gctx); err != nil {
			return err
		}
		if sender != nil {
			sender.attach(runner.p, hepOut)
			g.Go(func() error { return sender.Run(gctx) })
		}
		g.Go(func() error { defer sender.finish(); return runner.Run(gctx) })
		logger.Info("live capture", "ifaces", live.ifaces, "hep_udp", live.hepUDP, "hep_tcp", live.hepTCP)
	}
	srv := api.New(cfg, store, logger)
	g.Go(func() error { return srv.Run(gctx) })
	fmt.Fprintf(stdout, "sipscope serving http://%s/ (data %s)\n", *listen, *dataDir)
	return g.Wait()
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// ringGeometry turns --ring-mb into TPACKET_V3 blocks. The kernel hands a
// block over when it is full or when its timeout (50 ms) passes, so on a
// quiet link every block holds a few packets and the ring absorbs a reader
// stall of about blocks × 50 ms whatever its size: small rings therefore
// keep 16 blocks and shrink the blocks (down to 128 KiB, which still holds
// a 64 KiB frame), and large rings grow in 4 MiB blocks.
func ringGeometry(mb int) (blockSize, numBlocks int, err error) {
	const blocks, bigBlock = 16, 4 << 20
	switch {
	case mb < 2:
		return 0, 0, fmt.Errorf("--ring-mb %d: want at least 2", mb)
	case mb <= blocks*bigBlock>>20:
		return mb << 20 / blocks, blocks, nil
	case mb%(bigBlock>>20) != 0:
		return 0, 0, fmt.Errorf("--ring-mb %d: above %d, want a multiple of %d", mb, blocks*bigBlock>>20, bigBlock>>20)
	}
	return bigBlock, mb / (bigBlock >> 20), nil
}
