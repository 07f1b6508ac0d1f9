// Package accounts manages the users and API tokens of a store from the
// command line (sipscope user, sipscope token): what the API's admin routes
// do over HTTP, for the first admin and for scripts.
package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
)

// Store is where users and tokens are kept (both storage backends).
type Store = api.AuthStore

// Errors of the package.
var (
	ErrInvalid = errors.New("accounts: invalid")
	ErrExists  = errors.New("accounts: user exists")
)

// ValidName checks a user name.
func ValidName(name string) error {
	if !api.ValidUserName(name) {
		return fmt.Errorf("%w: user name %q: 1 to 64 letters, digits or . _ @ -", ErrInvalid, name)
	}
	return nil
}

// AddUser creates a user with role and password (hashed here).
func AddUser(ctx context.Context, st Store, name, role, password string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if !api.ValidRole(role) {
		return fmt.Errorf("%w: role %q: want admin, operator or viewer", ErrInvalid, role)
	}
	hash, err := api.HashPassword(password)
	if err != nil {
		return err
	}
	if _, err := st.GetUser(ctx, name); err == nil {
		return fmt.Errorf("%w: %q (use user passwd to change the password)", ErrExists, name)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return st.PutUser(ctx, storage.User{Name: name, Role: role, PasswordHash: hash})
}

// SetPassword changes a user's password.
func SetPassword(ctx context.Context, st Store, name, password string) error {
	hash, err := api.HashPassword(password)
	if err != nil {
		return err
	}
	u, err := st.GetUser(ctx, name)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	return st.PutUser(ctx, u)
}

// WriteUsers lists the users as a table.
func WriteUsers(ctx context.Context, st Store, w io.Writer) error {
	us, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tUPDATED")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Created.UTC().Format(time.RFC3339), u.Updated.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// AddToken creates an API token acting as user; the secret is returned
// once and only its hash is stored.
func AddToken(ctx context.Context, st Store, user, label string) (secret string, rec storage.Token, err error) {
	if len(label) > 128 {
		return "", rec, fmt.Errorf("%w: token name longer than 128 bytes", ErrInvalid)
	}
	if err := ValidName(user); err != nil {
		return "", rec, err
	}
	if _, err := st.GetUser(ctx, user); err != nil {
		return "", rec, err
	}
	if secret, rec, err = api.NewToken(user, label); err != nil {
		return "", rec, err
	}
	return secret, rec, st.PutToken(ctx, rec)
}

// WriteTokens lists the tokens (never their secrets) as a table.
func WriteTokens(ctx context.Context, st Store, w io.Writer) error {
	ts, err := st.ListTokens(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.User, t.Name, t.Created.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// GeneratePassword makes a 20-character password (120 random bits).
func GeneratePassword() (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
