package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/storage"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		name string
		url  string
		want Config
	}{
		{"a full URL gives every field", "clickhouse://ops:s3cret@db.example:9440/voip?secure=true",
			Config{Addr: "db.example:9440", Username: "ops", Password: "s3cret", Database: "voip", Secure: true}},
		{"a bare host gets the native port and the default database", "clickhouse://127.0.0.1",
			Config{Addr: "127.0.0.1:9000"}},
		{"the tcp scheme is the same protocol", "tcp://10.0.0.1:9001/",
			Config{Addr: "10.0.0.1:9001"}},
		{"an IPv6 host keeps its brackets in the address", "clickhouse://[::1]:9000/sipscope",
			Config{Addr: "[::1]:9000", Database: "sipscope"}},
		{"a user without password is allowed", "clickhouse://default@h",
			Config{Addr: "h:9000", Username: "default"}},
		{"skip_verify with secure accepts any certificate", "clickhouse://h?secure=1&skip_verify=true",
			Config{Addr: "h:9000", Secure: true, SkipVerify: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseURL(c.url)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseURLRefusesWhatCannotWork(t *testing.T) {
	cases := []struct{ name, url, says string }{
		{"the HTTP protocol is refused", "http://h:8123", "scheme"},
		{"no host is refused", "clickhouse:///db", "no host"},
		{"a port out of range is refused", "clickhouse://h:70000", "port"},
		{"a database that is no identifier is refused", "clickhouse://h/my-db", "Database"},
		{"a misspelt parameter is refused, not ignored", "clickhouse://h?secur=true", "unknown parameter"},
		{"secure must be a boolean", "clickhouse://h?secure=yes please", "secure"},
		{"skip_verify without TLS is refused", "clickhouse://h?skip_verify=true", "skip_verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseURL(c.url)
			if !errors.Is(err, storage.ErrInvalidConfig) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %v, want storage.ErrInvalidConfig saying %q", err, c.says)
			}
		})
	}
}

func TestRedactedHidesThePassword(t *testing.T) {
	c, err := ParseURL("clickhouse://ops:s3cret@h:9440/voip?secure=true")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Redacted()
	if strings.Contains(got, "s3cret") || got != "clickhouse://ops@h:9440/voip?secure=true" {
		t.Errorf("Redacted() = %q", got)
	}
	if _, err := ParseURL("clickhouse://ops:s3cret@h:x"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a bad URL's error %v must not repeat the password", err)
	}
}
