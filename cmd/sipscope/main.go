// Command sipscope is the one binary: it analyses capture files, imports them
// into ClickHouse, serves the API and UI, and generates test captures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `sipscope — passive SIP/RTP monitoring

Usage:
  sipscope analyze FILE [--json]          summarise calls, registrations and RTP of a pcap/pcapng file
  sipscope import [--data DIR | --clickhouse URL [--clickhouse-cluster NAME]] FILE...
                                          import captures into the store (embedded ClickHouse by default)
  sipscope serve [--data DIR] [--listen ADDR] [--import FILE...]
                                          serve the API and web UI from the store
  sipscope user add|del|passwd|list [--data DIR] NAME [--role admin|operator|viewer]
                                          manage the users of the API and UI
  sipscope token add|del|list [--data DIR] ...
                                          manage API tokens for scripts (shown once, stored hashed)
  sipscope gen [flags] OUT.pcap           write a generated capture with known ground truth
  sipscope bench decode FILE              measure decode throughput on a capture
  sipscope bench inject --iface IF --pcap FILE [--pps N] [--seconds S --loop]
                                          send a capture's frames out of IF at a set rate (root)
  sipscope version
`

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch args[0] {
	case "analyze":
		err = cmdAnalyze(ctx, args[1:], stdout, stderr)
	case "import":
		err = cmdImport(ctx, args[1:], stdout, logger)
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, logger)
	case "user":
		err = cmdUser(ctx, args[1:], stdout, logger)
	case "token":
		err = cmdToken(ctx, args[1:], stdout, logger)
	case "gen":
		err = cmdGen(args[1:], stdout)
	case "bench":
		err = cmdBench(ctx, args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "sipscope", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "sipscope: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "sipscope %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// parseArgs parses flags that may appear before, between or after positional
// arguments ("analyze FILE --json" as well as "analyze --json FILE").
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
