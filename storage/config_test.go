package storage

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateNamesTheBadField(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		field string // "" means valid
	}{
		{"an embedded store needs only a data dir", Config{DataDir: "/var/lib/sipscope"}, ""},
		{"the embedded backend can be named", Config{Backend: BackendEmbedded, DataDir: "d"}, ""},
		{"an embedded store without a data dir is invalid", Config{}, "DataDir"},
		{"an embedded store cannot use a cluster", Config{DataDir: "d", Cluster: "c"}, "Cluster"},
		{"a server store needs an address", Config{Backend: BackendServer}, "Addr"},
		{"a server address needs a port", Config{Backend: BackendServer, Addr: "localhost"}, "Addr"},
		{"a server store with an address is valid", Config{Backend: BackendServer, Addr: "127.0.0.1:9000"}, ""},
		{"a cluster name may have dashes and dots", Config{Backend: BackendServer, Addr: "h:9000", Cluster: "eu-west.1"}, ""},
		{"a cluster name cannot have quotes", Config{Backend: BackendServer, Addr: "h:9000", Cluster: "c'"}, "Cluster"},
		{"the database must be an identifier", Config{Backend: BackendServer, Addr: "h:9000", Database: "a;b"}, "Database"},
		{"an unknown backend is named", Config{Backend: "sqlite", DataDir: "d"}, "Backend"},
		{"a negative retention is invalid", Config{DataDir: "d", Retention: -time.Hour}, "Retention"},
		{"a retention below a day is invalid", Config{DataDir: "d", Retention: time.Hour}, "Retention"},
		{"a thirty-day retention is valid", Config{DataDir: "d", Retention: 30 * 24 * time.Hour}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.field == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.field+":") {
				t.Errorf("error %v, want ErrInvalidConfig naming %s", err, c.field)
			}
		})
	}
}

func TestDatabaseNameDefaults(t *testing.T) {
	if got := (Config{}).DatabaseName(); got != DefaultDatabase {
		t.Errorf("default database %q", got)
	}
	if got := (Config{Database: "x"}).DatabaseName(); got != "x" {
		t.Errorf("database %q", got)
	}
}
