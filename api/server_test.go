package api_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   api.Config
		field string // "" when valid
	}{
		{"the zero config is valid with its defaults", api.Config{}, ""},
		{"an IPv4 listen address is valid", api.Config{Listen: "127.0.0.1:8080"}, ""},
		{"an IPv6 listen address is valid", api.Config{Listen: "[::1]:9090"}, ""},
		{"a host name with port is valid", api.Config{Listen: "localhost:80"}, ""},
		{"all interfaces on port 0 is valid", api.Config{Listen: ":0"}, ""},
		{"a port alone without colon is refused", api.Config{Listen: "8080"}, "Listen"},
		{"a port above 65535 is refused", api.Config{Listen: "127.0.0.1:65536"}, "Listen"},
		{"a named port is refused", api.Config{Listen: "127.0.0.1:http"}, "Listen"},
		{"a host with spaces is refused", api.Config{Listen: "my host:80"}, "Listen"},
		{"a negative header timeout is refused", api.Config{ReadHeaderTimeout: -time.Second}, "ReadHeaderTimeout"},
		{"a negative shutdown timeout is refused", api.Config{ShutdownTimeout: -1}, "ShutdownTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, api.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate: %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
}

func TestRunRefusesAnInvalidConfig(t *testing.T) {
	err := api.New(api.Config{Listen: "nope"}, nil, nil).Run(context.Background())
	if !errors.Is(err, api.ErrInvalidConfig) {
		t.Fatalf("Run: %v, want ErrInvalidConfig", err)
	}
}

func TestRunReportsAnAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = api.New(api.Config{Listen: ln.Addr().String()}, nil, nil).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run on a busy port: %v, want a listen error", err)
	}
}

// TestServeStopsGracefullyWhenContextEnds starts a real listener, proves it
// answers, cancels, and requires Serve to return nil with the port closed.
func TestServeStopsGracefullyWhenContextEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.New(api.Config{}, nil, testLogger(t)).Serve(ctx, ln) }()

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("GET /healthz: %d %s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("port still accepts connections after shutdown")
	}
}

// TestRunListensOnTheConfiguredAddress finds a free port, runs on it and
// stops.
func TestRunListensOnTheConfiguredAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.New(api.Config{Listen: addr}, nil, nil).Run(ctx) }()

	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/api/v1/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("server never answered on %s: %v", addr, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// A server built without a store is a wiring mistake; it must still answer
// 500 rather than drop the connection.
func TestHandlerPanicBecomes500(t *testing.T) {
	srv := startServer(t, nil)
	var body struct{ Error string }
	getJSON(t, srv, "/api/v1/calls", http.StatusInternalServerError, &body)
	if body.Error != "internal error" {
		t.Errorf("error %q", body.Error)
	}
	getJSON(t, srv, "/healthz", http.StatusOK, &body)
}
