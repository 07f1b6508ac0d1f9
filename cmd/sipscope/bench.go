package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sipscope/sipscope/inject"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/backend"
	"github.com/sipscope/sipscope/storage/storebench"
)

// cmdBench runs `bench decode`, which measures the offline pipeline on a
// capture held in memory, so the figure is decode+correlate+quality speed,
// not disk speed; or `bench inject` (bench_inject.go), which offers a
// capture to an interface at a set rate.
func cmdBench(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "inject" {
		return cmdBenchInject(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "store" {
		return cmdBenchStore(ctx, args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fs.Int("rounds", 5, "passes over the capture")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "decode" {
		return errors.New("usage: sipscope bench decode FILE, sipscope bench store [--data DIR | --clickhouse URL], or sipscope bench inject --iface IF --pcap FILE [--pps N] (see -h)")
	}
	frames, err := pipeline.LoadFrames(pos[1])
	if err != nil {
		return err
	}
	r := pipeline.Bench(frames, *rounds)
	fmt.Fprintf(stdout, "%s: %d frames x %d rounds in %v\n", pos[1], len(frames), *rounds, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "%.0f packets/s  %.1f MB/s  %.3f allocs/packet\n", r.PacketsPerSecond(), r.MBPerSecond(), r.AllocsPerPacket())
	return nil
}

// cmdBenchInject is `sipscope bench inject`: flags to an inject.Config.
func cmdBenchInject(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench inject", flag.ContinueOnError)
	cfg := inject.Config{Senders: 1, Method: inject.MethodRing, Batch: 256}
	cfg.AddFlags(fs)
	pcap := fs.String("pcap", "", "pcap/pcapng file of Ethernet frames, sent as they are")
	seconds := fs.Float64("seconds", 0, "stop after this many seconds (0 = after one pass)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *pcap == "" {
		return errors.New("usage: sipscope bench inject --iface IF --pcap FILE [--pps N] [--seconds S [--loop]] [--senders N] [--method ring|sendmmsg]")
	}
	cfg.Duration = time.Duration(*seconds * float64(time.Second))
	if err := cfg.Validate(); err != nil {
		return err
	}
	frames, err := pipeline.LoadFrames(*pcap)
	if err != nil {
		return err
	}
	if err := inject.CheckFrames(frames); err != nil {
		return fmt.Errorf("%s: %w", *pcap, err)
	}
	cfg.Senders = min(cfg.Senders, len(frames))
	res, err := inject.Run(ctx, cfg, frames)
	if err != nil {
		return err
	}
	res.WriteReport(stdout, cfg)
	return nil
}

// cmdBenchStore is `sipscope bench store`: the latency percentiles of the
// API's main reads on an existing store (storebench).
func cmdBenchStore(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench store", flag.ContinueOnError)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	var sc storeConfig
	sc.AddFlags(fs)
	var cfg storebench.Config
	fs.IntVar(&cfg.Rounds, "rounds", 100, "queries of each kind")
	fs.DurationVar(&cfg.Window, "window", time.Hour, "time range of the range search")
	settle := fs.Bool("settle", false, "first merge each finished day into one part, as serve's retention rounds do over time")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return errors.New("usage: sipscope bench store [--data DIR | --clickhouse URL] [--rounds N] [--settle]")
	}
	if err := sc.Validate(); err != nil {
		return err
	}
	store, where, err := backend.Open(ctx, *dataDir, sc, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if *settle {
		t := time.Now()
		n, err := storage.SettleMerges(ctx, store, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "settled: %d partitions merged in %v\n", n, time.Since(t).Round(time.Millisecond))
	}
	res, err := storebench.Run(ctx, store, cfg)
	if err != nil {
		return err
	}
	res.WriteText(stdout, where)
	return nil
}
