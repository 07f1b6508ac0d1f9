package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

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
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/storage/server"
	"github.com/sipscope/sipscope/storage/spool"
	"github.com/sipscope/sipscope/ui"
)

func cmdImport(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	var sc storeConfig
	sc.addFlags(fs)
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
	store, err := openStore(ctx, *dataDir, sc, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, f := range files {
		n, err := pipeline.ImportFile(ctx, store, f)
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
	store, err := openStore(ctx, c.Data, c.storeConfig, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, f := range c.Import {
		n, err := pipeline.ImportFile(ctx, store, f)
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
	var retainer *storage.Retainer
	if policy := c.retention(); policy.Enabled() {
		if retainer, err = storage.NewRetainer(store, policy, 0, logger, reg); err != nil {
			return err
		}
		g.Go(func() error { return retainer.Run(gctx) })
	}
	if live.Enabled() {
		eng, err := startAlerts(g, gctx, c, store, logger, reg)
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
	fmt.Fprintf(stdout, "sipscope serving http://%s/ (%s)\n", c.Listen, store)
	return g.Wait()
}

// liveStatus is the live runner's status with the store's retention
// figures (disk use per table) beside its keys.
type liveStatus struct {
	pipeline.LiveStatus
	Retention *storage.RetentionStatus `json:"retention,omitempty"`
}

func retentionStatus(r *storage.Retainer) *storage.RetentionStatus {
	if r == nil {
		return nil
	}
	st := r.Status()
	return &st
}

// storeSpoolDir is the store spool's directory inside the data directory.
const storeSpoolDir = "sipscope-store-spool"

// appStore is what serve and import need of a store, whichever backend.
type appStore interface {
	pipeline.StoreWriter
	api.Store
	record.Writer // the alerts of live traffic
	storage.RetentionEnforcer
	Close() error
	String() string // where the data is, without secrets
}

// openStore opens the ClickHouse server sc names, or else the embedded
// store in dataDir. sc is assumed valid.
func openStore(ctx context.Context, dataDir string, sc storeConfig, logger *slog.Logger) (appStore, error) {
	cfg, remote, err := sc.server()
	if err != nil {
		return nil, err
	}
	if !remote {
		st, err := embedded.Open(ctx, dataDir, embedded.WithRetentionPolicy(sc.retention()))
		if err != nil {
			return nil, err
		}
		return namedStore{st, "data " + dataDir}, nil
	}
	st, err := server.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	logger.Info("store", "clickhouse", cfg.Redacted(), "cluster", cfg.Cluster, "version", st.ServerVersion())
	return namedStore{st, "clickhouse " + cfg.Redacted()}, nil
}

// storeBackend is every method serve's parts use of a store. Both backends
// have them all; listing them here keeps a wrapper (namedStore) from hiding
// one that a part looks for by type assertion (the API's users and tokens,
// registration and stream lists, stored alerts and their evidence, the
// resumer of open calls).
type storeBackend interface {
	pipeline.StoreWriter
	pipeline.CallResumer
	api.Store
	api.AuthStore
	api.RegistrationStore
	api.StreamStore
	api.KPIStore
	api.AlertStore
	api.EvidenceStore
	record.Writer
	storage.RetentionEnforcer
	Close() error
}

// namedStore gives a backend the description serve prints.
type namedStore struct {
	storeBackend
	name string
}

func (n namedStore) String() string { return n.name }

// startAlerts builds the alert engine of live traffic. Its sink stores
// every transition in w (so the API lists alerts across restarts) and,
// when receivers are configured, hands it to the webhook notifier too;
// both only queue, and both run in g.
func startAlerts(g *errgroup.Group, ctx context.Context, c serveConfig, w record.Writer, logger *slog.Logger, reg prometheus.Registerer) (*alert.Engine, error) {
	rec, err := record.New(w, record.Config{}, reg, logger)
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return rec.Run(ctx) })
	sinks := record.Tee{rec}
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
