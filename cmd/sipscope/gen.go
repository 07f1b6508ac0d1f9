package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sipscope/sipscope/gen"
)

func cmdGen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	var cfg gen.Config
	fs.IntVar(&cfg.Calls, "calls", 8, "number of scenarios to play (cycling through -mix), up to 10,000,000")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed: same flags, same bytes")
	fs.Float64Var(&cfg.LossPct, "loss", 0, "RTP loss in percent")
	fs.IntVar(&cfg.BurstLen, "burst", 1, "mean loss burst length (1 = random loss)")
	fs.Float64Var(&cfg.JitterMs, "jitter", 0, "max uniform RTP arrival jitter in ms")
	fs.DurationVar(&cfg.CallDuration, "duration", 2*time.Second, "media duration of answered calls")
	fs.StringVar(&cfg.Codec, "codec", gen.CodecPCMU, "PCMU, PCMA or mix")
	fs.StringVar(&cfg.Transport, "transport", gen.TransportUDP, "udp, tcp, ws (SIP over WebSocket) or sctp")
	fs.StringVar(&cfg.Encap, "encap", "", "encapsulation: "+strings.Join(gen.AllEncaps(), ", "))
	fs.BoolVar(&cfg.IPv6, "ipv6", false, "IPv6 endpoints")
	fs.IntVar(&cfg.TCPSegmentSize, "tcp-segment", 0, "split SIP over TCP into segments of at most this many bytes")
	fs.Float64Var(&cfg.TCPReorderPct, "tcp-reorder", 0, "percent of split messages whose segments are swapped")
	fs.Float64Var(&cfg.TCPRetransmitPct, "tcp-retransmit", 0, "percent of segments sent twice")
	fs.BoolVar(&cfg.WSFragment, "ws-fragment", false, "split each WebSocket message into several frames")
	start := fs.String("start", "", "when the first call starts, RFC 3339 (default 2026-01-01T10:00:00Z)")
	fs.Float64Var(&cfg.CPS, "cps", 0, "start calls exactly 1/N s apart (default: 200-500 ms apart at random)")
	fs.BoolVar(&cfg.SIPOnly, "sip-only", false, "leave the media out: SIP only, as a SIP tap sees it")
	mix := fs.String("mix", "", "comma-separated scenarios: answered,busy,cancelled,register,no_final (default all), and t38 (a call moved to T.38 fax and back)")
	truthPath := fs.String("truth", "", "also write the ground truth JSON to this file")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return errors.New("need exactly one output file")
	}
	if *mix != "" {
		for _, s := range strings.Split(*mix, ",") {
			cfg.Mix = append(cfg.Mix, gen.Scenario(strings.TrimSpace(s)))
		}
	}
	if *start != "" {
		if cfg.Start, err = time.Parse(time.RFC3339Nano, *start); err != nil {
			return fmt.Errorf("-start: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	out, err := os.Create(files[0])
	if err != nil {
		return err
	}
	// Without -truth the capture is streamed: memory stays bounded
	// however many calls (-calls up to 10,000,000).
	w := bufio.NewWriterSize(out, 1<<20)
	var truth *gen.Truth
	var totals gen.Totals
	if *truthPath != "" {
		if truth, err = gen.Write(w, cfg); err == nil {
			totals = truth.Totals
		}
	} else {
		totals, err = gen.Stream(w, cfg)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *truthPath != "" {
		b, err := json.MarshalIndent(truth, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*truthPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", files[0])
	// One line of key=value for scripts (make bench-storage).
	fmt.Fprintf(stdout, "totals: packets=%d sip_messages=%d call_ids=%d rtp_packets=%d\n",
		totals.Packets, totals.SIPMessages, totals.CallIDs, totals.RTPPackets)
	return nil
}
