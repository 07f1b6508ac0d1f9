package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sipscope/sipscope/gen"
)

func cmdGen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	cfg := gen.Config{Calls: 8, Seed: 1, BurstLen: 1, CallDuration: 2 * time.Second, Codec: gen.CodecPCMU, Transport: gen.TransportUDP}
	cfg.AddFlags(fs)
	truthPath := fs.String("truth", "", "also write the ground truth JSON to this file")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return errors.New("need exactly one output file")
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
