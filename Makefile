# The README's two commands: `make run` and `make test`. Everything they need is set up by
# scripts/deps.sh (missing system packages), tools/kube/build.sh (the Kubernetes binaries,
# with the real node's kubelet, kube-proxy, registry and CoreDNS), tools/node/build.sh (its
# pause process and ingress controller) and tools/prometheus/build.sh (the dev Prometheus,
# which scripts/run.sh builds itself when it is missing).
GO      ?= go
BIN     := bin/berth
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/berth-dev/berth/internal/buildinfo.Version=$(VERSION)
# Real clusters and databases take longer than go test's 10-minute default on a cold machine, and the
# first package to start Gitea, versitygw, nats-server or Prometheus builds it (see test).
TESTFLAGS ?= -count=1 -timeout=45m
# The fuzz run is bounded by a count, not a duration: with a duration, Go 1.26's fuzz
# coordinator can fail with "context deadline exceeded" when the deadline lands while a worker
# is minimizing a new input (golang/go#75804, fixed in Go 1.27); minimization is bounded too.
FUZZTIME  ?= 60000x
FUZZMINIMIZE ?= 20x

.PHONY: all build run stop test bench screenshots kube node gitea s3 nats prometheus deps deps-run fetch prebuild vet clean

all: build

## build: compile bin/berth, static (CGO_ENABLED=0: it is also the synthetic probes' image,
## on an empty base)
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/berth

## deps: install the system packages the tests need when they are missing
deps:
	@scripts/deps.sh

## deps-run: only those `make run` needs (no Chromium)
deps-run:
	@scripts/deps.sh run

## fetch: download the Go modules of berth, of the Kubernetes binaries and of Prometheus
## (network time, which `make run` spends while apt installs packages)
fetch:
	@tools/kube/build.sh --download >/dev/null
	@tools/prometheus/build.sh --download >/dev/null
	@$(GO) list -deps ./cmd/berth ./cmd/berth-dev-ingress ./examples/hello >/dev/null

## prebuild: compile into the Go build cache what berth and the example's image link that the
## Kubernetes binaries do not (the pure-Go SQLite; the static example). `make run` runs it beside
## `make kube`, whose build leaves a core idle at times; they share no package, so nothing
## compiles twice.
prebuild:
	@CGO_ENABLED=0 $(GO) build modernc.org/sqlite
	@cd examples/hello && CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -buildvcs=false -ldflags="-s -w" -o /dev/null .

## kube: build (or reuse from the cache) the local Kubernetes binaries, with the real node's
## kubelet, kube-proxy, registry and CoreDNS
kube: deps-run
	@tools/kube/build.sh >/dev/null

## node: build (or reuse) the real node's pause process and ingress controller. After berth
## and the Kubernetes binaries, one at a time: go builds running side by side would each
## compile the libraries they share (client-go, the API types), where one after the other
## the second finds them in the build cache.
node: kube build
	@tools/node/build.sh >/dev/null

## gitea: build (or reuse from the cache) Gitea, the real forge of the git-flow tests
## (internal/giteatest). After the node: one go build at a time shares the build cache.
gitea: deps node
	@tools/gitea/build.sh >/dev/null

## s3: build (or reuse from the cache) versitygw, the real S3 server of the backup tests
## (internal/s3test). After Gitea, for the same reason.
s3: gitea
	@tools/versitygw/build.sh >/dev/null

## nats: build (or reuse from the cache) nats-server, the real queue server of the probe tests
## (internal/natstest). After versitygw, for the same reason.
nats: s3
	@tools/nats/build.sh >/dev/null

## prometheus: build (or reuse from the cache) Prometheus and promtool, the real metrics server
## of the golden-signals and alerts tests (internal/promtest) and of `make run`. After nats,
## for the same reason. `make run` does not depend on it (nats, s3 and gitea are the tests'
## only): scripts/run.sh builds Prometheus itself, after the node's build, showing progress.
prometheus: nats
	@tools/prometheus/build.sh >/dev/null

## run: start (or reuse) the local cluster, a Prometheus and a berth server, deploy examples/hello,
## say how to use it
run:
	@$(MAKE) --no-print-directory -j2 deps-run fetch
	@$(MAKE) --no-print-directory -j2 kube prebuild
	@$(MAKE) --no-print-directory node
	@BERTH_BIN=$(BIN) scripts/run.sh

## stop: stop what `make run` started: the berth server (its data stays), Prometheus, PostgreSQL,
## then the local cluster
stop:
	@BERTH_BIN=$(BIN) scripts/run.sh stop

## test: go vet, every test (the real-cluster ones included) and a bounded fuzz run. Gitea,
## versitygw, nats-server and Prometheus are built (or found in the cache) by the first test
## that starts each (internal/tooltest runs tools/NAME/build.sh, one build at a time per
## server): on a cold machine their builds overlap the other packages' tests, which mostly
## wait on real clusters and leave the cores idle. `make gitea s3 nats prometheus` builds
## them up front instead.
test: deps node vet
	CGO_ENABLED=0 $(GO) test $(TESTFLAGS) ./...
	CGO_ENABLED=0 $(GO) test -run=NONE -fuzz=FuzzParseRender -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) ./internal/manifest

## vet, test and bench build berth as `make build` does (CGO_ENABLED=0), so that the tests'
## berth binary (cmd/berth's, static for the probe image) shares their build cache.
vet:
	CGO_ENABLED=0 $(GO) vet ./...

## screenshots: save every dashboard page at 1280x800 into docs/screenshots/ (the browser test)
screenshots: deps node
	BERTH_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestDashboard$$' ./cmd/berth

## bench: the benchmarks
bench: node
	CGO_ENABLED=0 $(GO) test -run=NONE -bench=. -benchmem ./...

## clean: `make stop`, then remove build output (the kube cache and the server's data stay)
clean:
	-@$(MAKE) --no-print-directory stop
	rm -rf bin
