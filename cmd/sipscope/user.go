package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

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
	password := func() (string, error) {
		if !*pwStdin {
			return accounts.GeneratePassword()
		}
		line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if sub != "list" {
		if err := accounts.ValidName(name); err != nil {
			return err
		}
	}
	return withAccounts(ctx, *dataDir, func(st *embedded.Store) error {
		switch sub {
		case "add":
			pw, err := password()
			if err == nil {
				err = accounts.AddUser(ctx, st, name, *role, pw)
			}
			if err != nil {
				return err
			}
			logger.Info("user added", "user", name, "role", *role)
			fmt.Fprintf(stdout, "added user %s (%s)\n", name, *role)
			showGenerated(stdout, *pwStdin, pw)
		case "passwd":
			pw, err := password()
			if err == nil {
				err = accounts.SetPassword(ctx, st, name, pw)
			}
			if err != nil {
				return err
			}
			logger.Info("user password changed", "user", name)
			fmt.Fprintf(stdout, "changed the password of %s\n", name)
			showGenerated(stdout, *pwStdin, pw)
		case "del":
			if err := st.DeleteUser(ctx, name); err != nil {
				return err
			}
			logger.Info("user deleted", "user", name)
			fmt.Fprintf(stdout, "deleted user %s\n", name)
		case "list":
			return accounts.WriteUsers(ctx, st, stdout)
		default:
			return fmt.Errorf("unknown subcommand %q\n%s", sub, userUsage)
		}
		return nil
	})
}

// showGenerated prints a password the command made up, once.
func showGenerated(w io.Writer, fromStdin bool, pw string) {
	if !fromStdin {
		fmt.Fprintf(w, "password: %s\n", pw)
	}
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
	return withAccounts(ctx, *dataDir, func(st *embedded.Store) error {
		switch sub {
		case "add":
			secret, rec, err := accounts.AddToken(ctx, st, *user, arg)
			if err != nil {
				return err
			}
			logger.Info("token added", "id", rec.ID, "user", rec.User, "name", rec.Name)
			fmt.Fprintf(stdout, "id: %s\nuser: %s\ntoken: %s\n(the token is shown once; send it as \"Authorization: Bearer <token>\")\n", rec.ID, rec.User, secret)
		case "del":
			if err := st.DeleteToken(ctx, arg); err != nil {
				return err
			}
			logger.Info("token revoked", "id", arg)
			fmt.Fprintf(stdout, "revoked token %s\n", arg)
		case "list":
			return accounts.WriteTokens(ctx, st, stdout)
		default:
			return fmt.Errorf("unknown subcommand %q\n%s", sub, tokenUsage)
		}
		return nil
	})
}
