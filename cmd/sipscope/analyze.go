package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
)

func cmdAnalyze(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON document instead of tables")
	noPLC := fs.Bool("g711-no-plc", false, "score G.711 as without packet-loss concealment (Bpl 4.3)")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return errors.New("need exactly one capture file")
	}
	r, err := analyzeFile(files[0], qualityOptions{g711PLC: !*noPLC})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	writeSummary(stdout, &r)
	return nil
}

// analyzeFile runs the whole offline pipeline over one capture file.
func analyzeFile(path string, opts qualityOptions) (report, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return report{}, err
	}
	defer src.Close()
	p := newPipeline(correlate.DefaultConfig())
	if err := p.runSource(src); err != nil {
		return report{}, fmt.Errorf("%s: %w", path, err)
	}
	return buildReport(path, p, opts), nil
}
