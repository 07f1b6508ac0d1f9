package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/sipscope/sipscope/accounts"
	"github.com/sipscope/sipscope/storage/embedded"
)

const userUsage = `Usage:
  sipscope user add NAME --role admin|operator|viewer [--password-stdin] [--data DIR]
  sipscope user passwd NAME [--password-stdin] [--data DIR]
  sipscope user del NAME [--data DIR]
  sipscope user list [--data DIR]

Without --password-stdin a random password is generated and printed once.
`

const tokenUsage = `Usage:
  sipscope token add NAME --user USER [--data DIR]   create an API token (printed once)
  sipscope token del ID [--data DIR]                 revoke a token
  sipscope token list [--data DIR]
`

// cmdUser manages the users of the API in the embedded store.
func cmdUser(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	return runUser(ctx, args, os.Stdin, stdout, logger)
}

// accountArgs parses "SUB ARG... --flags" of user and token: the
// subcommand, its positional argument (list takes none) and the flags.
func accountArgs(args []string, usage string, fs *flag.FlagSet) (sub, arg string, err error) {
	if len(args) == 0 {
		return "", "", fmt.Errorf("need a subcommand\n%s", usage)
	}
	sub = args[0]
	fs.SetOutput(io.Discard)
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return "", "", fmt.Errorf("%w\n%s", err, usage)
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(pos) != want {
		return "", "", fmt.Errorf("%s takes %d argument(s), got %d\n%s", sub, want, len(pos), usage)
	}
	if want == 1 {
		arg = pos[0]
	}
	return sub, arg, nil
}

// withAccounts runs fn on the embedded store in dir and closes it.
func withAccounts(ctx context.Context, dir string, fn func(st *embedded.Store) error) error {
	st, err := embedded.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := fn(st); err != nil {
		return err
	}
	return st.Close()
}

// runUser is cmdUser with its standard input given, for tests.
func runUser(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("user", flag.ContinueOnError)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	role := fs.String("role", "", "admin, operator (may export PCAP and audio) or viewer (metadata only)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	sub, name, err := accountArgs(args, userUsage, fs)
	if err != nil {
		return err
	}
	if sub != "list" {
		if err := accounts.ValidName(name); err != nil {
			return err
		}
	}
	r := accounts.UserRequest{Sub: sub, Name: name, Role: *role, PasswordFromStdin: *pwStdin, Stdin: stdin}
	return withUsage(withAccounts(ctx, *dataDir, func(st *embedded.Store) error {
		return accounts.RunUser(ctx, st, r, stdout, logger)
	}), userUsage)
}

// cmdToken manages API tokens in the embedded store.
func cmdToken(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	user := fs.String("user", "", "the user the token acts as (its role applies)")
	sub, arg, err := accountArgs(args, tokenUsage, fs)
	if err != nil {
		return err
	}
	return withUsage(withAccounts(ctx, *dataDir, func(st *embedded.Store) error {
		return accounts.RunToken(ctx, st, sub, arg, *user, stdout, logger)
	}), tokenUsage)
}

// withUsage adds the usage to an unknown subcommand's error.
func withUsage(err error, usage string) error {
	if errors.Is(err, accounts.ErrUnknownSubcommand) {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	return err
}
