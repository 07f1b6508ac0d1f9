# sipscope — build, run, test. Two commands matter:
#   make run    install what is missing, import a bundled capture, serve the UI
#   make test   install what is missing, run every test CI runs
SHELL := /bin/bash
GO ?= go
BIN := bin/sipscope
CHDB_VERSION ?= 26.5.3
CHDB_LIB ?= /usr/local/lib/libchdb.so
DATA ?= ./sipscope-data
LISTEN ?= 127.0.0.1:8080
FUZZTIME ?= 20s
APT_PACKAGES := tshark sip-tester tcpreplay tcpdump chromium clickhouse-server clickhouse-client kamailio iproute2 zookeeper
export CHDB_LIB_PATH ?= $(CHDB_LIB)

.PHONY: all build run test lint unit conformance integration fuzz bench bench-capture bench-storage deps libchdb apt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/sipscope

# run: analyse and import the bundled generated capture, then serve the UI.
run: libchdb build
	$(BIN) analyze testdata/calls.pcap
	@echo
	@echo "sipscope UI: http://$(LISTEN)/  (Ctrl-C to stop)"
	$(BIN) serve --data $(DATA) --listen $(LISTEN) --import testdata/calls.pcap

deps: apt libchdb

# apt installs the traffic/oracle tools, the old ClickHouse server for the
# server-backend tests and Chromium for the UI test, when any is missing.
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# libchdb installs the embedded ClickHouse engine from its npm package.
libchdb:
	@if [ ! -f "$(CHDB_LIB)" ]; then \
	  set -e; tmp=$$(mktemp -d); echo "installing libchdb.so $(CHDB_VERSION) from npm into $(CHDB_LIB)"; \
	  (cd $$tmp && npm pack --silent @chdb/lib-linux-x64-gnu@$(CHDB_VERSION) >/dev/null && tar xzf chdb-lib-linux-x64-gnu-$(CHDB_VERSION).tgz); \
	  install -D -m 0755 $$tmp/package/libchdb.so "$(CHDB_LIB)"; rm -rf $$tmp; \
	fi

test: deps
	bash .ci/lint
	$(MAKE) unit conformance integration fuzz

# lint: gofmt, go vet, staticcheck, a tidy go.mod and the leaf stages'
# dependency rule (decode, correlate, quality link no capture, eBPF,
# metrics, web or database code).
lint:
	bash .ci/lint

# unit: every package's tests; artifacts (UI screenshots) land in test-output/.
unit:
	mkdir -p test-output
	$(GO) test -count=1 -timeout 25m -artifacts -outputdir=$(CURDIR)/test-output ./...

# conformance: third-party captures (testdata/captures) against tshark's
# oracle output, and the RFC 4475 torture messages.
conformance:
	$(GO) test -count=1 -timeout 25m -run 'Conformance|Oracle|Torture' ./...

# integration: tests behind the integration tag, which start real servers
# (ClickHouse 18.16, a 2-node cluster with ZooKeeper) and the live alert
# tests (sipp's registration storm on a veth, Kamailio's siptrace over HEP).
# Most Chromium, sipp, tshark and network-namespace tests run in unit: they
# need no tag, only the tools `make apt` installs.
integration:
	$(GO) test -count=1 -timeout 25m -tags integration ./storage/server/...
	$(GO) test -count=1 -timeout 25m -tags integration -run 'WithClickHouse|TestSippRegistrationStormOverAVeth|TestKamailioSiptraceOfAScannerSweep|TestCollectorRidesOutAClickHouseOutageAndAKill|TestTopologyTwoEdgesOneCollectorTwoNodeCluster' ./cmd/sipscope

# fuzz runs every native fuzz target for FUZZTIME (found by name, so no
# test binary is built just to list them).
fuzz:
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do \
	  pkg=$$(dirname $$f); \
	  for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	    .ci/fuzz-one $$pkg $$fn $(FUZZTIME); \
	  done; \
	done

# bench-capture (root): offer a generated capture to a veth at rising rates
# (sipscope bench inject; INJECTOR=tcpreplay for tcpreplay), mixed SIP+RTP
# and RTP-only with fanout, and print offered/captured pps, drops and CPU.
bench-capture: libchdb build
	bash .ci/bench-capture

# bench-storage: generate SIP-only calls (CALLS, default 1,000,000; CPS,
# PER_FILE, DIR), import them into a fresh embedded store and print the
# import rate, the latency percentiles of the newest page, a 1 h range +
# number search, a Call-ID search and a call's detail, and the store
# benchmark's sip_messages insert rate (scripts/bench-storage).
bench-storage: libchdb build
	bash scripts/bench-storage

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./decode/... ./quality/... ./correlate/...

clean:
	rm -rf bin
