package server

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/sipscope/sipscope/storage"
)

// DefaultPort is the native protocol's port, used when a URL names none.
const DefaultPort = 9000

// ParseURL reads the --clickhouse URL:
//
//	clickhouse://[user[:password]@]host[:port][/database][?secure=true&skip_verify=true]
//
// The port defaults to DefaultPort and the database to
// storage.DefaultDatabase. Only the native protocol exists (the HTTP one
// does not work with the old servers sipscope supports), so the scheme
// must be clickhouse or tcp. Unknown query keys are refused rather than
// ignored, so that a misspelt secure=true cannot silently send the
// password in clear. The result is validated.
func ParseURL(raw string) (Config, error) {
	bad := func(why string) (Config, error) {
		return Config{}, fmt.Errorf("%w: clickhouse URL: %s", storage.ErrInvalidConfig, why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		return bad("does not parse as a URL")
	}
	switch u.Scheme {
	case "clickhouse", "tcp":
	default:
		return bad(fmt.Sprintf("scheme %q, want clickhouse://", u.Scheme))
	}
	host := u.Hostname()
	if host == "" {
		return bad("no host")
	}
	port := DefaultPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad(fmt.Sprintf("port %q", p))
		}
		port = n
	}
	c := Config{Addr: net.JoinHostPort(host, strconv.Itoa(port))}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		c.Database = db
	}
	for key, vals := range u.Query() {
		v := vals[len(vals)-1]
		switch key {
		case "secure", "skip_verify":
			on, err := strconv.ParseBool(v)
			if err != nil {
				return bad(fmt.Sprintf("%s=%q, want true or false", key, v))
			}
			if key == "secure" {
				c.Secure = on
			} else {
				c.SkipVerify = on
			}
		default:
			return bad(fmt.Sprintf("unknown parameter %q (known: secure, skip_verify)", key))
		}
	}
	if c.SkipVerify && !c.Secure {
		return bad("skip_verify needs secure=true")
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Redacted is the URL of c without its password, for logs and status.
func (c Config) Redacted() string {
	u := url.URL{Scheme: "clickhouse", Host: c.Addr, Path: "/" + c.storageConfig().DatabaseName()}
	if c.Username != "" {
		u.User = url.User(c.Username)
	}
	if c.Secure {
		u.RawQuery = "secure=true"
	}
	return u.String()
}
