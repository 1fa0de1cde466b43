# The Go binding (cbindings/go): `make test` runs test-go (vet, gofmt, and the
# tests under the race detector); `make bench-go` runs the benchmarks that
# cbindings/go/README.md quotes.
GO ?= go
GO_DIR := cbindings/go
# Go (1.24+ for runtime.AddCleanup) with cgo and a C compiler.
GO_MIN_MINOR := 24
# Go does not hash C headers outside the package or the archives named in
# LDFLAGS into its build cache keys, so a rebuilt library or a regenerated
# header could leave stale cgo types or binaries. A stamp of both in
# CGO_CFLAGS (part of every cgo cache key) makes any change rebuild.
# -Werror here (our CI) and not in cgo.go, which asks for -Wall -Wextra: a
# user's newer compiler with a new warning should not break their build.
GO_ENV = CGO_ENABLED=1 GOTOOLCHAIN=local \
	CGO_CFLAGS="-O2 -g -Werror -DTRACKSTATS_BUILD_STAMP=$$(cat $(STATICLIB) $(CURDIR)/$(HEADER) | sha256sum | cut -c1-16)"
BENCH_GO_OUT := build/go/bench.txt

TEST_TARGETS += test-go
.PHONY: test-go bench-go check-go

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "error: 'go' 1.$(GO_MIN_MINOR) or newer is required for the Go binding (see README: Requirements)"; exit 1; }
	@v=$$($(GO) env GOVERSION); minor=$$(echo "$$v" | sed -E 's/^go1\.([0-9]+).*/\1/'); \
	  case "$$minor" in ''|*[!0-9]*) echo "warning: cannot parse Go version '$$v'";; \
	  *) [ "$$minor" -ge $(GO_MIN_MINOR) ] || { echo "error: Go 1.$(GO_MIN_MINOR)+ is required for the Go binding, found $$v"; exit 1; };; esac
	@command -v $(CC) >/dev/null 2>&1 || { echo "error: cgo needs a C compiler ('$(CC)')"; exit 1; }

# Two cores: the race-detector run takes well under a minute.
test-go: check-go lib
	cd $(GO_DIR) && $(GO_ENV) $(GO) vet ./...
	@cd $(GO_DIR) && bad=$$($$($(GO) env GOROOT)/bin/gofmt -l .) && [ -z "$$bad" ] \
	  || { echo "error: gofmt would change: $$bad (run gofmt -w $(GO_DIR))"; exit 1; }
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -race -count=1 -timeout 300s ./...

# About 4 minutes on 2 cores: 5 runs of each benchmark, 1 s each (the
# 100k-track ones run once per count); BenchmarkRecordParallel once more per
# GOMAXPROCS in 1, 2, 4, ... up to the cores. The SFU-shaped ones
# (sfu_bench_test.go): BenchmarkSFU in 5 runs of the test binary, so that
# its cases interleave (ABAB) instead of each running 5 times in a row, then
# BenchmarkSFUProcess once (its three children at once, SFU_SECONDS each,
# 60 by default). Medians: benchstat $(BENCH_GO_OUT).
BENCH_GO_CPUS := $(shell n=$$(nproc 2>/dev/null || echo 1); c=1; l=; \
	while [ $$c -lt $$n ]; do l="$$l$$c,"; c=$$((c * 2)); done; echo "$$l$$n")
BENCH_GO_TEST := $(CURDIR)/build/go/trackstats.test
SFU_SECONDS ?= 60
bench-go: check-go lib
	@mkdir -p $(dir $(BENCH_GO_OUT))
	cd $(GO_DIR) && set -o pipefail && { \
	  $(GO_ENV) $(GO) test -run '^$$' -bench . -skip 'Parallel|SFU' -benchmem -count 5 -benchtime 1s -timeout 600s ./... && \
	  $(GO_ENV) $(GO) test -run '^$$' -bench 'Parallel' -cpu $(BENCH_GO_CPUS) -benchmem -count 5 -benchtime 1s -timeout 600s ./... && \
	  $(GO_ENV) $(GO) test -c -o $(BENCH_GO_TEST) ./trackstats && cd trackstats && \
	  for i in 1 2 3 4 5; do $(BENCH_GO_TEST) -test.run '^$$' -test.bench 'SFU$$' -test.benchtime 0.5s -test.timeout 600s || exit 1; done && \
	  TRACKSTATS_SFU_SECONDS=$(SFU_SECONDS) $(BENCH_GO_TEST) -test.run '^$$' -test.bench 'SFUProcess' -test.benchtime 1x -test.timeout 0; \
	} | tee $(CURDIR)/$(BENCH_GO_OUT)
	@echo "bench-go: results in $(BENCH_GO_OUT); medians: go run golang.org/x/perf/cmd/benchstat@latest $(BENCH_GO_OUT)"

# Integration modules under cbindings/go bring their own fragments.
include $(GO_DIR)/tslivekit/tslivekit.mk
