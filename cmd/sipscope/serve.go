package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/hepsend"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/ui"
)

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
	apiCfg := api.Config{Listen: c.Listen, UI: ui.Handler(), Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	if err := apiCfg.Validate(); err != nil {
		return err
	}
	sender, err := hepsend.New(c.Config, live.Enabled(), logger, reg)
	if err != nil {
		return err
	}
	store, err := embedded.Open(ctx, c.Data)
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
	if live.Enabled() {
		runner := pipeline.NewLiveRunner(live, store, logger, reg)
		apiCfg.Status = func() any { return runner.Status() }
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
	fmt.Fprintf(stdout, "sipscope serving http://%s/ (data %s)\n", c.Listen, c.Data)
	return g.Wait()
}
