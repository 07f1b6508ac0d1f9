package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/internal/jsonconf"
)

// configKeys lists the JSON keys of serveConfig, embedded structs included.
func configKeys(t reflect.Type) map[string]bool {
	keys := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			for k := range configKeys(f.Type) {
				keys[k] = true
			}
			continue
		}
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
			keys[tag] = true
		}
	}
	return keys
}

// flagKey is the config key of a flag: its name with _ for -, except the
// key that predates the rule and the repeatable flag whose key is a list.
func flagKey(name string) string {
	switch name {
	case "spool-size":
		return "spool_size_mb"
	case "alert-webhook":
		return "alert_webhooks"
	}
	return strings.ReplaceAll(name, "-", "_")
}

func TestEveryServeFlagHasAConfigKey(t *testing.T) {
	c := defaultServeConfig()
	keys := configKeys(reflect.TypeOf(c))
	n := 0
	serveFlags(&c).VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		n++
		if !keys[flagKey(f.Name)] {
			t.Errorf("flag --%s has no config key %q", f.Name, flagKey(f.Name))
		}
	})
	if n < 20 {
		t.Fatalf("only %d flags seen", n)
	}
}

// A config file sets what its keys say, and a flag on the command line wins
// over the file's key.
func TestServeConfigFileUnderFlags(t *testing.T) {
	file := map[string]any{
		"data": "/var/lib/sipscope", "listen": "127.0.0.1:9999", "iface": []string{"eth1", "eth2"}, "fanout": 2,
		"promisc": true, "snaplen": 1500, "ring_mb": 8, "flush": "250ms", "hep_listen": "udp://127.0.0.1:9060",
		"hep_send": "udp://127.0.0.1:9061", "hep_send_rtcp": true, "hep_node_id": 7,
	}
	b, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sipscope.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseServeArgs([]string{"--config", path, "--fanout", "3", "--listen", "127.0.0.1:7777", "a.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	want := defaultServeConfig()
	want.Data, want.Listen, want.Ifaces, want.Fanout = "/var/lib/sipscope", "127.0.0.1:7777", []string{"eth1", "eth2"}, 3
	want.Promisc, want.SnapLen, want.RingMB, want.Flush, want.HEPListen = true, 1500, 8, jsonconf.Duration(250*time.Millisecond), "udp://127.0.0.1:9060"
	want.HEPSend, want.HEPSendRTCP, want.HEPNodeID, want.Import = "udp://127.0.0.1:9061", true, 7, []string{"a.pcap"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config\n got %+v\nwant %+v", c, want)
	}
	live, err := c.liveOptions()
	if err != nil {
		t.Fatal(err)
	}
	if live.Fanout != 3 || !live.Promisc || live.SnapLen != 1500 || live.NumBlocks != 16 || live.BlockSize != 512<<10 {
		t.Errorf("live options %+v do not follow the config", live)
	}
}

func TestServeConfigValidateNamesTheBadSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*serveConfig)
		want string
	}{
		{"no listen address", func(c *serveConfig) { c.Listen = "" }, "listen"},
		{"a zero flush", func(c *serveConfig) { c.Flush = 0 }, "flush"},
		{"a fanout of 65", func(c *serveConfig) { c.Fanout = 65 }, "fanout"},
		{"a ring of 1 MiB", func(c *serveConfig) { c.RingMB = 1 }, "ring-mb"},
		{"a HEP listener of an unknown scheme", func(c *serveConfig) { c.HEPListen = "sctp://127.0.0.1:9060" }, "hep-listen"},
		{"a spool without an interface", func(c *serveConfig) { c.SpoolDir = "/tmp/x" }, "spool-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultServeConfig()
			tc.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestServeMemoryLimitDefaultsAndYieldsToGOMEMLIMIT(t *testing.T) {
	cases := []struct {
		name string
		mb   int
		env  string
		want int64
	}{
		{"the default is 1200 MiB", 0, "", 1200 << 20},
		{"a configured size is taken in MiB", 900, "", 900 << 20},
		{"-1 sets none", -1, "", 0},
		{"GOMEMLIMIT in the environment wins", 900, "2GiB", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := (serveConfig{MemoryLimitMB: c.mb}).memoryLimit(c.env); got != c.want {
				t.Errorf("memoryLimit = %d, want %d", got, c.want)
			}
		})
	}
	bad := defaultServeConfig()
	bad.MemoryLimitMB = -2
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "memory_limit_mb") {
		t.Errorf("Validate of -2: %v", err)
	}
}
