package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Users and API tokens live in the store next to the calls, so that every
// collector sharing a ClickHouse server sees the same accounts and the
// embedded store needs no second file. Both tables are
// ReplacingMergeTree(version) keyed by the record's identity: a change or a
// deletion is a new row with a higher version (deleted = 1 for a deletion),
// which works the same on ClickHouse 18.16 and chDB 26.5 and needs no
// mutations. Reads use FINAL and filter on the key only, then drop deleted
// records in Go: a WHERE on another column could be applied before FINAL
// collapses the versions (PREWHERE) and resurrect an older row.

// User is an account of the API. PasswordHash is an encoded password
// hash (bcrypt); storage never sees the password.
type User struct {
	Name         string
	Role         string
	PasswordHash string
	Created      time.Time
	Updated      time.Time
}

// Token is an API token. Hash is the hex SHA-256 of the secret, which only
// its owner ever saw; ID is public and names the token in lists and
// revocations.
type Token struct {
	ID      string
	Hash    string
	User    string
	Name    string // a label chosen by its creator ("grafana", "backup script")
	Created time.Time
}

// maxAuthKey bounds names and IDs: they are keys of tables read whole.
const maxAuthKey = 256

func usersTable() table {
	return table{
		name: TableUsers,
		columns: []Column{
			{Name: "name", Type: TypeString},
			{Name: "role", Type: TypeString},
			{Name: "password_hash", Type: TypeString},
			{Name: "created_us", Type: TypeUInt64},
			{Name: "updated_us", Type: TypeUInt64},
			{Name: "deleted", Type: TypeUInt8},
			{Name: "version", Type: TypeUInt64},
		},
		orderBy:       "name",
		version:       "version",
		shardKey:      "cityHash64(name)",
		unpartitioned: true,
		since:         revisionAuth,
	}
}

func tokensTable() table {
	return table{
		name: TableTokens,
		columns: []Column{
			{Name: "id", Type: TypeString},
			{Name: "token_hash", Type: TypeString},
			{Name: "owner", Type: TypeString},
			{Name: "name", Type: TypeString},
			{Name: "created_us", Type: TypeUInt64},
			{Name: "deleted", Type: TypeUInt8},
			{Name: "version", Type: TypeUInt64},
		},
		orderBy:       "id",
		version:       "version",
		shardKey:      "cityHash64(id)",
		unpartitioned: true,
		since:         revisionAuth,
	}
}

func checkKey(what, v string) error {
	if v == "" || len(v) > maxAuthKey {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrInvalidRecord, what, maxAuthKey)
	}
	return nil
}

// PutUser creates u or replaces the user of the same name. A zero Created
// is set to now; Updated is always now.
func PutUser(ctx context.Context, ins Inserter, db string, u User, clock *VersionClock) error {
	if err := checkKey("user name", u.Name); err != nil {
		return err
	}
	now := time.Now()
	if u.Created.IsZero() {
		u.Created = now
	}
	row := []any{u.Name, u.Role, u.PasswordHash, microsOf(u.Created), microsOf(now), uint8(0), clock.Next()}
	return insert(ctx, ins, db, usersTable(), [][]any{row})
}

// DeleteUser removes the user name; ErrNotFound when there is none.
func DeleteUser(ctx context.Context, q Querier, ins Inserter, db, name string, clock *VersionClock) error {
	u, err := GetUser(ctx, q, db, name)
	if err != nil {
		return err
	}
	now := microsOf(time.Now())
	row := []any{u.Name, "", "", microsOf(u.Created), now, uint8(1), clock.Next()}
	return insert(ctx, ins, db, usersTable(), [][]any{row})
}

// GetUser reads one user; ErrNotFound when there is none.
func GetUser(ctx context.Context, q Querier, db, name string) (User, error) {
	if err := checkKey("user name", name); err != nil {
		return User{}, err
	}
	us, err := readUsers(ctx, q, db, " WHERE name = "+QuoteString(name))
	if err != nil {
		return User{}, err
	}
	if len(us) == 0 {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	return us[0], nil
}

// ListUsers returns every user, by name.
func ListUsers(ctx context.Context, q Querier, db string) ([]User, error) {
	return readUsers(ctx, q, db, "")
}

func readUsers(ctx context.Context, q Querier, db, where string) ([]User, error) {
	var (
		name, role, hash     string
		createdUS, updatedUS uint64
		deleted              uint8
		out                  []User
	)
	err := q.Query(ctx,
		"SELECT name, role, password_hash, created_us, updated_us, deleted FROM "+db+"."+TableUsers+" FINAL"+where,
		[]any{&name, &role, &hash, &createdUS, &updatedUS, &deleted}, func() error {
			if deleted == 0 {
				out = append(out, User{Name: name, Role: role, PasswordHash: hash,
					Created: timeOfMicros(createdUS), Updated: timeOfMicros(updatedUS)})
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: read users: %w", err)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// PutToken stores a new token. A zero Created is set to now.
func PutToken(ctx context.Context, ins Inserter, db string, t Token, clock *VersionClock) error {
	if err := checkKey("token id", t.ID); err != nil {
		return err
	}
	if err := checkKey("token user", t.User); err != nil {
		return err
	}
	if t.Hash == "" {
		return fmt.Errorf("%w: token %s has no hash", ErrInvalidRecord, t.ID)
	}
	if t.Created.IsZero() {
		t.Created = time.Now()
	}
	row := []any{t.ID, t.Hash, t.User, t.Name, microsOf(t.Created), uint8(0), clock.Next()}
	return insert(ctx, ins, db, tokensTable(), [][]any{row})
}

// DeleteToken revokes the token id; ErrNotFound when there is none.
func DeleteToken(ctx context.Context, q Querier, ins Inserter, db, id string, clock *VersionClock) error {
	t, err := GetToken(ctx, q, db, id)
	if err != nil {
		return err
	}
	row := []any{t.ID, "", t.User, t.Name, microsOf(t.Created), uint8(1), clock.Next()}
	return insert(ctx, ins, db, tokensTable(), [][]any{row})
}

// GetToken reads one token; ErrNotFound when there is none or it was revoked.
func GetToken(ctx context.Context, q Querier, db, id string) (Token, error) {
	if err := checkKey("token id", id); err != nil {
		return Token{}, err
	}
	ts, err := readTokens(ctx, q, db, " WHERE id = "+QuoteString(id))
	if err != nil {
		return Token{}, err
	}
	if len(ts) == 0 {
		return Token{}, fmt.Errorf("%w: token %q", ErrNotFound, id)
	}
	return ts[0], nil
}

// ListTokens returns every live token, oldest first.
func ListTokens(ctx context.Context, q Querier, db string) ([]Token, error) {
	return readTokens(ctx, q, db, "")
}

func readTokens(ctx context.Context, q Querier, db, where string) ([]Token, error) {
	var (
		id, hash, user, name string
		createdUS            uint64
		deleted              uint8
		out                  []Token
	)
	err := q.Query(ctx,
		"SELECT id, token_hash, owner, name, created_us, deleted FROM "+db+"."+TableTokens+" FINAL"+where,
		[]any{&id, &hash, &user, &name, &createdUS, &deleted}, func() error {
			if deleted == 0 {
				out = append(out, Token{ID: id, Hash: hash, User: user, Name: name, Created: timeOfMicros(createdUS)})
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: read tokens: %w", err)
	}
	slices.SortFunc(out, func(a, b Token) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
