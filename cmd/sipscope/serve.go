package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/alert/record"
	"github.com/sipscope/sipscope/alert/webhook"
	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/hepsend"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/backend"
	"github.com/sipscope/sipscope/storage/spool"
	"github.com/sipscope/sipscope/ui"
)

func cmdImport(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	var sc storeConfig
	sc.AddFlags(fs)
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("need at least one capture file")
	}
	if err := sc.Validate(); err != nil {
		return err
	}
	keep, err := pipeline.ParseStoreRTP(sc.StoreRTP)
	if err != nil {
		return err
	}
	store, _, err := backend.Open(ctx, *dataDir, sc, logger, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, f := range files {
		n, err := pipeline.ImportFileWith(ctx, store, f, pipeline.ImportOptions{StoreRTP: keep})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "imported %s: %d calls\n", f, n)
	}
	return nil
}

// cmdServe imports what it is given, then runs the live pipeline (when a
// source is configured), the HEP sender and the API under one errgroup
// until ctx ends.
func cmdServe(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	c, err := parseServeArgs(args)
	if err != nil {
		return err
	}
	live, err := c.liveOptions()
	if err != nil {
		return err
	}
	if lim := c.memoryLimit(os.Getenv("GOMEMLIMIT")); lim > 0 {
		debug.SetMemoryLimit(lim)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	apiCfg := c.apiConfig()
	apiCfg.UI, apiCfg.Metrics, apiCfg.Registerer = ui.Handler(), promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), reg
	if err := apiCfg.Validate(); err != nil {
		return err
	}
	sender, err := hepsend.New(c.Config, live.Enabled(), logger, reg)
	if err != nil {
		return err
	}
	store, where, err := backend.Open(ctx, c.Data, c.storeConfig, logger, reg)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, f := range c.Import {
		n, err := pipeline.ImportFileWith(ctx, store, f, pipeline.ImportOptions{StoreRTP: c.storeRTP()})
		if err != nil {
			return err
		}
		logger.Info("imported", "file", f, "calls", n)
	}
	g, gctx := errgroup.WithContext(ctx)
	if live.Enabled() && c.SpoolStoreMB > 0 {
		sp, err := spool.Open(spool.Config{Dir: filepath.Join(c.Data, storeSpoolDir), MaxBytes: int64(c.SpoolStoreMB * 1e6),
			Registerer: reg, Logger: logger})
		if err != nil {
			return err
		}
		defer sp.Close()
		if n := sp.Len(); n > 0 {
			logger.Info("store spool: batches left by the last run will be replayed", "batches", n)
		}
		live.StoreSpool = sp
	}
	// Without a retention policy the retainer's rounds drop nothing and
	// only measure the disk use per table, for status and /metrics.
	retainer, err := storage.NewRetainer(store, c.Retention(), 0, logger, reg)
	if err != nil {
		return err
	}
	g.Go(func() error { return retainer.Run(gctx) })
	apiCfg.StoreStatus = func() any { return retainer.Status() }
	if live.Enabled() {
		// The live event hub (GET /api/v1/events) hears of each batch once
		// stored, and of each alert.
		events := api.NewEvents(api.EventsConfig{Registerer: reg})
		apiCfg.Events = events
		live.OnStored = events.Publish
		eng, err := startAlerts(g, gctx, c, store, logger, reg, events)
		if err != nil {
			return err
		}
		live.Observer = eng
		apiCfg.Alerts = func() []alert.Alert { return eng.Alerts() }
		runner := pipeline.NewLiveRunner(live, store, logger, reg)
		apiCfg.Status = func() any { return liveStatus{runner.Status(), retentionStatus(retainer)} }
		if err := runner.Open(gctx); err != nil {
			return err
		}
		if sender != nil {
			sender.Attach(runner.Pipeline(), c.Config)
			g.Go(func() error { return sender.Run(gctx) })
		}
		g.Go(func() error { defer sender.Finish(); return runner.Run(gctx) })
		logger.Info("live capture", "ifaces", live.Ifaces, "hep_udp", live.HEPUDP, "hep_tcp", live.HEPTCP)
	}
	srv := api.New(apiCfg, store, logger)
	g.Go(func() error { return srv.Run(gctx) })
	fmt.Fprintf(stdout, "sipscope serving http://%s/ (%s)\n", c.Listen, where)
	return g.Wait()
}

// liveStatus is the live runner's status with the store's retention
// figures (disk use per table) beside its keys.
type liveStatus struct {
	pipeline.LiveStatus
	Retention *storage.RetentionStatus `json:"retention,omitempty"`
}

func retentionStatus(r *storage.Retainer) *storage.RetentionStatus {
	st := r.Status()
	return &st
}

// storeSpoolDir is the store spool's directory inside the data directory.
const storeSpoolDir = "sipscope-store-spool"

// startAlerts builds the alert engine of live traffic. Its sink stores
// every transition in w (so the API lists alerts across restarts), hands it
// to the other sinks (the live event hub) and, when receivers are
// configured, to the webhook notifier; none of them blocks, and the store
// recorder and the notifier run in g.
func startAlerts(g *errgroup.Group, ctx context.Context, c serveConfig, w record.Writer, logger *slog.Logger, reg prometheus.Registerer, others ...alert.Sink) (*alert.Engine, error) {
	rec, err := record.New(w, record.Config{}, reg, logger)
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return rec.Run(ctx) })
	sinks := append(record.Tee{rec}, others...)
	if len(c.AlertWebhooks) > 0 {
		n, err := webhook.New(c.webhooks(), nil, reg, logger)
		if err != nil {
			return nil, err
		}
		g.Go(func() error { return n.Run(ctx) })
		sinks = append(sinks, n)
	}
	return alert.New(c.Alerts.WithDefaults(), alert.Options{Registerer: reg, Logger: logger, Sink: sinks})
}

// The parts serve wires look for these on the store by type assertion:
// a backend without one must not build.
var _ interface {
	pipeline.StoreWriter
	pipeline.CallResumer
	api.Store
	api.AuthStore
	api.RegistrationStore
	api.StreamStore
	api.KPIStore
	api.FrameStore
	api.CallCounter
	api.AlertStore
	api.EvidenceStore
	record.Writer
	storage.RetentionEnforcer
} = backend.Store(nil)
