package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/ui"
)

// storeWriter is what importing needs from a store.
type storeWriter interface {
	Write(ctx context.Context, b storage.Batch) error
}

// messageBatch bounds how many SIP messages are held before they are written.
const messageBatch = 50000

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
		n, err := importFile(ctx, store, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "imported %s: %d calls\n", f, n)
	}
	return nil
}

// importFile runs the pipeline over one file and writes its records.
func importFile(ctx context.Context, store storeWriter, path string) (int, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages = true
	p := newPipeline(cfg)
	var writeErr error
	flush := func() {
		if msgs := p.corr.TakeMessages(); len(msgs) > 0 && writeErr == nil {
			writeErr = store.Write(ctx, storage.Batch{Messages: msgs})
		}
	}
	err = p.runSourceEach(src, func() {
		if p.corr.PendingMessages() >= messageBatch {
			flush()
		}
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	flush()
	if writeErr != nil {
		return 0, writeErr
	}
	streams := p.finishStreams(qualityOptions{g711PLC: true})
	calls := p.corr.Calls()
	applyCallMOS(calls, streams)
	b := storage.Batch{Calls: calls, Registrations: p.corr.Registrations(), Streams: streams}
	if err := store.Write(ctx, b); err != nil {
		return 0, err
	}
	return len(calls), nil
}

func cmdServe(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP listen address of the API and UI")
	var imports multiFlag
	fs.Var(&imports, "import", "capture file to import before serving (repeatable)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	imports = append(imports, rest...) // "serve --import a.pcap b.pcap"
	cfg := api.Config{Listen: *listen, UI: ui.Handler()}
	if err := cfg.Validate(); err != nil {
		return err
	}
	store, err := embedded.Open(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, f := range imports {
		n, err := importFile(ctx, store, f)
		if err != nil {
			return err
		}
		logger.Info("imported", "file", f, "calls", n)
	}
	srv := api.New(cfg, store, logger)
	fmt.Fprintf(stdout, "sipscope serving http://%s/ (data %s)\n", *listen, *dataDir)
	return srv.Run(ctx)
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
