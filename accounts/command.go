package accounts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ErrUnknownSubcommand is a subcommand user or token does not have.
var ErrUnknownSubcommand = errors.New("unknown subcommand")

// UserRequest is one `sipscope user` subcommand: add, passwd, del or list.
// A password is read from the first line of Stdin when PasswordFromStdin,
// else generated and printed once.
type UserRequest struct {
	Sub, Name, Role   string
	PasswordFromStdin bool
	Stdin             io.Reader
}

// RunUser carries out r on st, saying what it did on out. The caller
// checks the name (ValidName) before it opens the store.
func RunUser(ctx context.Context, st Store, r UserRequest, out io.Writer, logger *slog.Logger) error {
	switch r.Sub {
	case "add":
		pw, err := r.password()
		if err == nil {
			err = AddUser(ctx, st, r.Name, r.Role, pw)
		}
		if err != nil {
			return err
		}
		logger.Info("user added", "user", r.Name, "role", r.Role)
		fmt.Fprintf(out, "added user %s (%s)\n", r.Name, r.Role)
		r.showGenerated(out, pw)
	case "passwd":
		pw, err := r.password()
		if err == nil {
			err = SetPassword(ctx, st, r.Name, pw)
		}
		if err != nil {
			return err
		}
		logger.Info("user password changed", "user", r.Name)
		fmt.Fprintf(out, "changed the password of %s\n", r.Name)
		r.showGenerated(out, pw)
	case "del":
		if err := st.DeleteUser(ctx, r.Name); err != nil {
			return err
		}
		logger.Info("user deleted", "user", r.Name)
		fmt.Fprintf(out, "deleted user %s\n", r.Name)
	case "list":
		return WriteUsers(ctx, st, out)
	default:
		return fmt.Errorf("%w %q", ErrUnknownSubcommand, r.Sub)
	}
	return nil
}

func (r UserRequest) password() (string, error) {
	if !r.PasswordFromStdin {
		return GeneratePassword()
	}
	line, err := bufio.NewReader(io.LimitReader(r.Stdin, 1024)).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// showGenerated prints a password the command made up, once.
func (r UserRequest) showGenerated(out io.Writer, pw string) {
	if !r.PasswordFromStdin {
		fmt.Fprintf(out, "password: %s\n", pw)
	}
}

// RunToken carries out one `sipscope token` subcommand on st: add (a
// token named arg acting as user, its secret printed once), del (the
// token whose ID is arg) or list.
func RunToken(ctx context.Context, st Store, sub, arg, user string, out io.Writer, logger *slog.Logger) error {
	switch sub {
	case "add":
		secret, rec, err := AddToken(ctx, st, user, arg)
		if err != nil {
			return err
		}
		logger.Info("token added", "id", rec.ID, "user", rec.User, "name", rec.Name)
		fmt.Fprintf(out, "id: %s\nuser: %s\ntoken: %s\n(the token is shown once; send it as \"Authorization: Bearer <token>\")\n", rec.ID, rec.User, secret)
	case "del":
		if err := st.DeleteToken(ctx, arg); err != nil {
			return err
		}
		logger.Info("token revoked", "id", arg)
		fmt.Fprintf(out, "revoked token %s\n", arg)
	case "list":
		return WriteTokens(ctx, st, out)
	default:
		return fmt.Errorf("%w %q", ErrUnknownSubcommand, sub)
	}
	return nil
}
