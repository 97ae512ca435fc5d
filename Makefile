# The README's two commands: `make run` and `make test`. Everything they need is set up by
# scripts/deps.sh (missing system packages), tools/kube/build.sh (the Kubernetes binaries)
# and tools/node/build.sh (the real node's registry, CoreDNS, Traefik, crictl and pause).
GO      ?= go
BIN     := bin/berth
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/berth-dev/berth/internal/buildinfo.Version=$(VERSION)
# Real clusters and databases take longer than go test's 10-minute default on a cold machine.
TESTFLAGS ?= -count=1 -timeout=30m
FUZZTIME  ?= 20s

.PHONY: all build run stop test bench screenshots kube node deps vet clean

all: build

## build: compile bin/berth
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/berth

## deps: install the system packages the tests need when they are missing
deps:
	@scripts/deps.sh

## kube: build (or reuse from the cache) the local Kubernetes binaries and the real node's
## programs, side by side (they share the cores and the Go build cache)
kube: deps
	@tools/kube/build.sh >/dev/null & kube=$$!; tools/node/build.sh >/dev/null; node=$$?; wait $$kube && exit $$node

## run: start (or reuse) the local cluster and a berth server, deploy examples/hello, say how to use it
run:
	@$(MAKE) --no-print-directory -j2 build kube
	@BERTH_BIN=$(BIN) scripts/run.sh

## stop: stop what `make run` started: the berth server (its data stays), then the local cluster
stop:
	@BERTH_BIN=$(BIN) scripts/run.sh stop

## test: go vet, every test (the real-cluster ones included) and a bounded fuzz run
test: deps kube vet
	$(GO) test $(TESTFLAGS) ./...
	$(GO) test -run=NONE -fuzz=FuzzParseRender -fuzztime=$(FUZZTIME) ./internal/manifest

vet:
	$(GO) vet ./...

## screenshots: save every dashboard page at 1280x800 into docs/screenshots/ (the browser test)
screenshots: deps kube
	BERTH_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestDashboard$$' ./cmd/berth

## bench: the benchmarks
bench: kube
	$(GO) test -run=NONE -bench=. -benchmem ./...

## clean: `make stop`, then remove build output (the kube cache and the server's data stay)
clean:
	-@$(MAKE) --no-print-directory stop
	rm -rf bin
