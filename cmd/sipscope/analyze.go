package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"

	"github.com/sipscope/sipscope/pipeline"
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
	r, err := pipeline.AnalyzeFile(files[0], pipeline.QualityOptions{G711PLC: !*noPLC})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	pipeline.WriteSummary(stdout, &r)
	return nil
}
