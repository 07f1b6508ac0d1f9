package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/sipscope/sipscope/storage"
)

// Roles, from least to most trusted. Each may do what the ones before it may.
const (
	// RoleViewer reads call, registration and stream metadata.
	RoleViewer = "viewer"
	// RoleOperator may also export what was said: PCAP and audio.
	RoleOperator = "operator"
	// RoleAdmin may also manage users and tokens.
	RoleAdmin = "admin"
)

// access is what a route requires of its caller.
type access int

const (
	accessOpen     access = iota // anyone who reaches the port
	accessViewer                 // any authenticated user
	accessOperator               // operator or admin
	accessAdmin                  // admin
)

func (a access) String() string {
	switch a {
	case accessOpen:
		return "open"
	case accessViewer:
		return RoleViewer
	case accessOperator:
		return RoleOperator
	case accessAdmin:
		return RoleAdmin
	}
	return fmt.Sprintf("access(%d)", int(a))
}

// roleAccess is what a role grants; an unknown role grants nothing, so a
// row with a typo in its role cannot log in to anything.
func roleAccess(role string) (access, bool) {
	switch role {
	case RoleViewer:
		return accessViewer, true
	case RoleOperator:
		return accessOperator, true
	case RoleAdmin:
		return accessAdmin, true
	}
	return 0, false
}

// ValidRole reports whether role is one of the roles above.
func ValidRole(role string) bool {
	_, ok := roleAccess(role)
	return ok
}

// AuthStore is where users and API tokens are kept. The Store handed to
// New is used as one when it has these methods (both storage backends
// do); a store without them has no users.
type AuthStore interface {
	UserStore
	TokenStore
}

// UserStore reads and changes users. GetUser and DeleteUser return an error
// wrapping storage.ErrNotFound for an unknown name.
type UserStore interface {
	PutUser(ctx context.Context, u storage.User) error
	DeleteUser(ctx context.Context, name string) error
	GetUser(ctx context.Context, name string) (storage.User, error)
	ListUsers(ctx context.Context) ([]storage.User, error)
}

// TokenStore reads and changes API tokens. GetToken and DeleteToken return
// an error wrapping storage.ErrNotFound for an unknown or revoked ID.
type TokenStore interface {
	PutToken(ctx context.Context, t storage.Token) error
	DeleteToken(ctx context.Context, id string) error
	GetToken(ctx context.Context, id string) (storage.Token, error)
	ListTokens(ctx context.Context) ([]storage.Token, error)
}

// Limits on credentials. bcrypt reads at most 72 bytes of a password;
// refusing longer ones says so instead of silently ignoring the rest.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
	maxUserName    = 64
	// BcryptCost is bcrypt's work factor for new hashes (bcrypt's
	// default): one check took 164 ms on the shared 2-core development
	// machine at load 9 (2026-12-07), and login is rate-limited.
	BcryptCost = 10
)

// ValidUserName accepts 1 to 64 bytes of letters, digits and ". _ @ -":
// names appear in logs and URLs and must not need escaping there.
func ValidUserName(name string) bool {
	if name == "" || len(name) > maxUserName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}

// HashPassword checks a new password's length and returns its bcrypt hash.
func HashPassword(password string) (string, error) {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen || len(password) > MaxPasswordLen {
		return "", fmt.Errorf("%w: a password has %d to %d bytes", ErrWeakPassword, MinPasswordLen, MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("api: hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash is checked against when a login names an unknown user, so
// that the answer takes as long as for a known one.
var dummyHash = func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("sipscope-no-such-user"), BcryptCost)
	if err != nil {
		panic(err) // only on a bad cost, a constant
	}
	return h
}()

// checkPassword reports whether password matches hash; an empty hash
// (unknown user) never matches but costs the same.
func checkPassword(hash, password string) bool {
	if hash == "" || len(password) > MaxPasswordLen {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// API tokens look like "ssk_<id>_<secret>": the ID (16 hex digits) finds
// the stored record, the secret (32 random bytes, base64url) is what
// proves possession. Only the SHA-256 of the whole token is stored; a
// fast hash is enough because the secret has 256 bits of entropy.
const tokenPrefix = "ssk_"

// NewToken makes a token for user: the secret to show once and the record
// to store.
func NewToken(user, name string) (secret string, rec storage.Token, err error) {
	var idb [8]byte
	var sb [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", storage.Token{}, fmt.Errorf("api: token id: %w", err)
	}
	if _, err := rand.Read(sb[:]); err != nil {
		return "", storage.Token{}, fmt.Errorf("api: token secret: %w", err)
	}
	id := hex.EncodeToString(idb[:])
	secret = tokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(sb[:])
	return secret, storage.Token{ID: id, Hash: tokenHash(secret), User: user, Name: name}, nil
}

func tokenHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// tokenID returns the ID part of a token, or false if it is not shaped
// like one.
func tokenID(secret string) (string, bool) {
	rest, ok := strings.CutPrefix(secret, tokenPrefix)
	if !ok || len(rest) != 16+1+43 || rest[16] != '_' {
		return "", false
	}
	id := rest[:16]
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return id, true
}

// principal is who a request acts as.
type principal struct {
	user   string
	role   string
	access access
	via    string // "session", "token" or "open"
	// session is the session a cookie named, for logout and CSRF.
	session *session
}

// authState knows whether users exist; it decides whether the server runs
// open. It is loaded from the store on first use and updated by the
// user routes.
type authState struct {
	store AuthStore // nil: no users can exist
	// openWithoutUsers is true when the server may run open while no user
	// is defined: listening on loopback, or Config.AuthMode "none".
	openWithoutUsers atomic.Bool
	// none is Config.AuthMode "none": never ask for credentials.
	none bool
	// users is -1 until loaded, else 0 (none) or 1 (some).
	users atomic.Int32
	// checked is when users was last read from the store (Unix ns). While
	// there are none it is read again every usersRecheck, so that a user
	// added by another process (sipscope user add on a shared ClickHouse
	// server) closes the open mode without a restart.
	checked atomic.Int64
	// recheck is usersRecheck; tests shorten it.
	recheck time.Duration
}

const usersRecheck = 10 * time.Second

// hasUsers reports whether any user is defined, reading the store the
// first time.
func (a *authState) hasUsers(ctx context.Context) (bool, error) {
	switch a.users.Load() {
	case 0:
		if time.Since(time.Unix(0, a.checked.Load())) < a.recheck {
			return false, nil
		}
	case 1:
		return true, nil
	}
	if err := a.reload(ctx); err != nil {
		if a.users.Load() == 0 {
			// Known to have none: a store that is down for a while (an
			// outage the spool rides out) keeps that answer rather than
			// failing every request, status included.
			return false, nil
		}
		return false, err
	}
	return a.users.Load() == 1, nil
}

func (a *authState) reload(ctx context.Context) error {
	a.checked.Store(time.Now().UnixNano())
	if a.store == nil {
		a.users.Store(0)
		return nil
	}
	us, err := a.store.ListUsers(ctx)
	if err != nil {
		return err
	}
	if len(us) > 0 {
		a.users.Store(1)
	} else {
		a.users.Store(0)
	}
	return nil
}

// open reports whether requests need no credentials right now.
func (a *authState) open(ctx context.Context) (bool, error) {
	if a.none {
		return true, nil
	}
	has, err := a.hasUsers(ctx)
	if err != nil {
		return false, err
	}
	return !has && a.openWithoutUsers.Load(), nil
}

// errUnauthenticated is the internal reason for a 401.
var errUnauthenticated = errors.New("api: not authenticated")

// constantTimeEqual compares secrets without leaking where they differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
