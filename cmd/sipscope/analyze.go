package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/internal/jsonconf"
	"github.com/sipscope/sipscope/pipeline"
)

// analyzeReport is the analyze --json document: the pipeline's report and
// the alerts the capture raised.
type analyzeReport struct {
	pipeline.Report
	Alerts []alert.Alert `json:"alerts"`
}

func cmdAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON document instead of tables")
	noPLC := fs.Bool("g711-no-plc", false, "score G.711 as without packet-loss concealment (Bpl 4.3)")
	alertsPath := fs.String("alerts", "", "JSON file of alert rule settings (the alerts section of serve's config); default: the built-in rules")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return errors.New("need exactly one capture file")
	}
	var acfg alert.Config
	if *alertsPath != "" {
		if err := jsonconf.Load(*alertsPath, &acfg); err != nil {
			return err
		}
	}
	acfg = acfg.WithDefaults()
	if err := acfg.Validate(); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	eng, err := alert.New(acfg, alert.Options{})
	if err != nil {
		return err
	}
	r, err := pipeline.AnalyzeFileContext(ctx, files[0], pipeline.QualityOptions{G711PLC: !*noPLC}, eng)
	if err != nil {
		return err
	}
	out := analyzeReport{Report: r, Alerts: eng.Alerts()}
	if out.Alerts == nil {
		out.Alerts = []alert.Alert{}
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, "sipscope analyze: warning:", w)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	pipeline.WriteSummary(stdout, &out.Report)
	if len(out.Alerts) > 0 {
		fmt.Fprintf(stdout, "\nALERTS (%d)\n", len(out.Alerts))
		for _, a := range out.Alerts {
			fmt.Fprintln(stdout, a.String())
		}
	}
	return nil
}
