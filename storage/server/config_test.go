package server

import (
	"context"
	"errors"
	"testing"

	"github.com/sipscope/sipscope/storage"
)

func TestOpenValidatesTheConfigBeforeDialling(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no address", Config{}},
		{"an address without port", Config{Addr: "127.0.0.1"}},
		{"a database that is no identifier", Config{Addr: "127.0.0.1:9000", Database: "x y"}},
		{"a cluster name with a quote", Config{Addr: "127.0.0.1:9000", Cluster: "a'b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Open(context.Background(), c.cfg); !errors.Is(err, storage.ErrInvalidConfig) {
				t.Errorf("error %v, want storage.ErrInvalidConfig", err)
			}
		})
	}
}
