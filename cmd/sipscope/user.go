package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
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

// authStore is what the user and token commands change.
type authStore interface {
	api.AuthStore
	Close() error
}

// cmdUser manages the users of the API in the embedded store.
func cmdUser(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	return runUser(ctx, args, os.Stdin, stdout, logger)
}

// cmdToken manages API tokens in the embedded store.
func cmdToken(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	return runToken(ctx, args, stdout, logger)
}

func openAuthStore(ctx context.Context, dir string) (authStore, error) {
	st, err := embedded.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// runUser is cmdUser with its standard input given, for tests.
func runUser(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, logger *slog.Logger) error {
	if len(args) == 0 {
		return fmt.Errorf("need a subcommand\n%s", userUsage)
	}
	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	role := fs.String("role", "", "admin, operator (may export PCAP and audio) or viewer (metadata only)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return fmt.Errorf("%w\n%s", err, userUsage)
	}
	sub := args[0]
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	if len(pos) != wantArgs {
		return fmt.Errorf("user %s takes %d argument(s), got %d\n%s", sub, wantArgs, len(pos), userUsage)
	}
	name := ""
	if wantArgs == 1 {
		name = pos[0]
		if !api.ValidUserName(name) {
			return fmt.Errorf("user name %q: 1 to 64 letters, digits or . _ @ -", name)
		}
	}
	password := func() (string, bool, error) {
		if !*pwStdin {
			p, err := generatePassword()
			return p, true, err
		}
		line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", false, fmt.Errorf("read the password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}

	switch sub {
	case "add":
		if !api.ValidRole(*role) {
			return fmt.Errorf("--role %q: want admin, operator or viewer", *role)
		}
		pw, generated, err := password()
		if err != nil {
			return err
		}
		hash, err := api.HashPassword(pw)
		if err != nil {
			return err
		}
		st, err := openAuthStore(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer st.Close()
		if _, err := st.GetUser(ctx, name); err == nil {
			return fmt.Errorf("user %q exists (use user passwd to change the password)", name)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err := st.PutUser(ctx, storage.User{Name: name, Role: *role, PasswordHash: hash}); err != nil {
			return err
		}
		logger.Info("user added", "user", name, "role", *role)
		fmt.Fprintf(stdout, "added user %s (%s)\n", name, *role)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return st.Close()
	case "passwd":
		pw, generated, err := password()
		if err != nil {
			return err
		}
		hash, err := api.HashPassword(pw)
		if err != nil {
			return err
		}
		st, err := openAuthStore(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer st.Close()
		u, err := st.GetUser(ctx, name)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		if err := st.PutUser(ctx, u); err != nil {
			return err
		}
		logger.Info("user password changed", "user", name)
		fmt.Fprintf(stdout, "changed the password of %s\n", name)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return st.Close()
	case "del":
		st, err := openAuthStore(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.DeleteUser(ctx, name); err != nil {
			return err
		}
		logger.Info("user deleted", "user", name)
		fmt.Fprintf(stdout, "deleted user %s\n", name)
		return st.Close()
	case "list":
		st, err := openAuthStore(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer st.Close()
		us, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tUPDATED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Created.UTC().Format(time.RFC3339), u.Updated.UTC().Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return st.Close()
	}
	return fmt.Errorf("unknown subcommand %q\n%s", sub, userUsage)
}

// generatePassword makes a 20-character password (120 random bits).
func generatePassword() (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func runToken(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	if len(args) == 0 {
		return fmt.Errorf("need a subcommand\n%s", tokenUsage)
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "./sipscope-data", "data directory of the embedded ClickHouse store")
	user := fs.String("user", "", "the user the token acts as (its role applies)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return fmt.Errorf("%w\n%s", err, tokenUsage)
	}
	sub := args[0]
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	if len(pos) != wantArgs {
		return fmt.Errorf("token %s takes %d argument(s), got %d\n%s", sub, wantArgs, len(pos), tokenUsage)
	}
	switch sub {
	case "add":
		label := pos[0]
		if len(label) > 128 {
			return errors.New("token name longer than 128 bytes")
		}
		if !api.ValidUserName(*user) {
			return fmt.Errorf("--user %q: need the name of an existing user", *user)
		}
		st, err := openAuthStore(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer st.Close()
		if _, err := st.GetUser(ctx, *user); err != nil {
			return err
		}
		secret, rec, err := api.NewToken(*user, label)
		if err != nil {
			return err
		}
		if err := st.PutToken(ctx, rec); err != nil {
			return err
		}
		logger.Info("token added", "id", rec.ID, "user", rec.User, "name", rec.Name)
		fmt.Fprintf(stdout, "id: %s\nuser: %s\ntoken: %s\n(the token is shown once; send it as \"Authorization: Bearer <token>\")\n", rec.ID, rec.User, secret)
		return st.Close()
	case "del":
		st, err := openAuthStore(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.DeleteToken(ctx, pos[0]); err != nil {
			return err
		}
		logger.Info("token revoked", "id", pos[0])
		fmt.Fprintf(stdout, "revoked token %s\n", pos[0])
		return st.Close()
	case "list":
		st, err := openAuthStore(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer st.Close()
		ts, err := st.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.User, t.Name, t.Created.UTC().Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return st.Close()
	}
	return fmt.Errorf("unknown subcommand %q\n%s", sub, tokenUsage)
}
