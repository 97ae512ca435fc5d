# The README's two commands: `make run` and `make test`. Everything they need is set up by
# scripts/deps.sh (missing system packages) and tools/kube/build.sh (the Kubernetes binaries).
GO      ?= go
BIN     := bin/berth
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/berth-dev/berth/internal/buildinfo.Version=$(VERSION)
# Real clusters and databases take longer than go test's 10-minute default on a cold machine.
TESTFLAGS ?= -count=1 -timeout=30m
FUZZTIME  ?= 20s

.PHONY: all build run test bench kube deps vet clean

all: build

## build: compile bin/berth
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/berth

## deps: install the system packages the tests need when they are missing
deps:
	@scripts/deps.sh

## kube: build (or reuse from the cache) the local Kubernetes binaries
kube: deps
	@tools/kube/build.sh >/dev/null

## run: start the local cluster and say how to use it
run: build kube
	@$(BIN) dev cluster up

## test: go vet, every test (the real-cluster ones included) and a bounded fuzz run
test: deps kube vet
	$(GO) test $(TESTFLAGS) ./...
	$(GO) test -run=NONE -fuzz=FuzzParseRender -fuzztime=$(FUZZTIME) ./internal/manifest

vet:
	$(GO) vet ./...

## bench: the benchmarks
bench: kube
	$(GO) test -run=NONE -bench=. -benchmem ./...

## clean: stop the local cluster and remove build output (the kube cache stays)
clean:
	-@test -x $(BIN) && $(BIN) dev cluster down
	rm -rf bin
