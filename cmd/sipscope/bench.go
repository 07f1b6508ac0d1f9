package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/frame"
)

// cmdBench runs `bench decode`, which measures the offline pipeline on a
// capture held in memory, so the figure is decode+correlate+quality speed,
// not disk speed; or `bench inject` (bench_inject.go), which offers a
// capture to an interface at a set rate.
func cmdBench(args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "inject" {
		return cmdBenchInject(args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fs.Int("rounds", 5, "passes over the capture")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "decode" {
		return errors.New("usage: sipscope bench decode FILE | sipscope bench inject --iface IF --pcap FILE [--pps N] ...")
	}
	frames, err := loadFrames(pos[1])
	if err != nil {
		return err
	}
	var bytes int64
	for _, f := range frames {
		bytes += int64(len(f.Data))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	start := time.Now()
	for range *rounds {
		p := newPipeline(correlate.DefaultConfig())
		for i := range frames {
			p.handleFrame(&frames[i])
		}
	}
	el := time.Since(start)
	runtime.ReadMemStats(&ms)
	n := float64(len(frames) * *rounds)
	fmt.Fprintf(stdout, "%s: %d frames x %d rounds in %v\n", pos[1], len(frames), *rounds, el.Round(time.Millisecond))
	fmt.Fprintf(stdout, "%.0f packets/s  %.1f MB/s  %.3f allocs/packet\n",
		n/el.Seconds(), float64(bytes)*float64(*rounds)/el.Seconds()/1e6, float64(ms.Mallocs-mallocs)/n)
	return nil
}

func loadFrames(path string) ([]frame.Frame, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var frames []frame.Frame
	var f frame.Frame
	for {
		err := src.Next(&f)
		if err == io.EOF || errors.Is(err, capture.ErrTruncated) {
			return frames, nil
		}
		if err != nil {
			return nil, err
		}
		g := f
		g.Data = append([]byte(nil), f.Data...)
		frames = append(frames, g)
	}
}
