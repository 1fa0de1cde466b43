# The Go modules (cbindings/go; README.md there).
#   make test-go          the main module and the loader: go vet, gofmt, the
#                         header copy's drift, every module's go.mod against
#                         go.work, the tests with cgo under the race detector
#                         and without cgo (the loader module), and the loader
#                         in a cgo build (-tags trackstats_purego).
#   make go-lib           copies the libraries `make lib` built to where the
#                         modules link and embed them (git-ignored).
#   make bench-go         the benchmarks README.md quotes (build/go/bench.txt).
GO ?= go
GO_DIR := cbindings/go
# The modules test-go vets and tests, with and without cgo: the main module
# and the loader. The integration modules (tslivekit, tspion, tsprom,
# tsotel) run their own tests from their fragments.
GO_MODULES := . tsnocgo
# Go 1.25+: the loader module's purego needs it (the main module: 1.24).
GO_MIN_MINOR := 25
GO_PLATFORM = $(shell $(GO) env GOOS)_$(shell $(GO) env GOARCH)
GO_ARCHIVE = $(GO_DIR)/trackstats/libtrackstats_$(GO_PLATFORM).a
GO_SHARED = $(GO_DIR)/tsnocgo/lib/$(GO_PLATFORM)/libtrackstats.so
GO_HEADER := $(GO_DIR)/trackstats/trackstats.h
HEADER_COPIES += $(GO_HEADER)
# Go does not hash archives named in cgo flags into its build cache keys (the
# header is in the package, so it is hashed), so a rebuilt library could
# leave stale binaries. A stamp of the archive in CGO_CFLAGS (part of every
# cgo cache key) makes any change rebuild. -Werror here (our CI) and not in
# cgo.go, which asks for -Wall -Wextra: a user's newer compiler with a new
# warning should not break their build.
GO_ENV = CGO_ENABLED=1 GOTOOLCHAIN=local \
	CGO_CFLAGS="-O2 -g -Werror -DTRACKSTATS_BUILD_STAMP=$$(sha256sum < $(CURDIR)/$(GO_ARCHIVE) | cut -c1-16)"
GO_NOCGO_ENV = CGO_ENABLED=0 GOTOOLCHAIN=local
# The package's tests without cgo take the loader module as a program does:
# testdata/nocgo_loader_test.go laid over the package (its go.mod cannot
# require the loader's module, which requires it).
GO_OVERLAY := build/go/overlay.json
BENCH_GO_OUT := build/go/bench.txt

TEST_TARGETS += test-go
.PHONY: test-go go-lib bench-go check-go

# Every Go target depends on check-go, so it also puts the libraries where
# the modules link and embed them (go-lib).
check-go: go-lib
	@v=$$($(GO) env GOVERSION); minor=$$(echo "$$v" | sed -E 's/^go1\.([0-9]+).*/\1/'); \
	  case "$$minor" in ''|*[!0-9]*) echo "warning: cannot parse Go version '$$v'";; \
	  *) [ "$$minor" -ge $(GO_MIN_MINOR) ] || { echo "error: Go 1.$(GO_MIN_MINOR)+ is required for the Go binding, found $$v"; exit 1; };; esac
	@command -v $(CC) >/dev/null 2>&1 || { echo "error: cgo needs a C compiler ('$(CC)')"; exit 1; }

# Copies only what changed, so Go's cache of the embedded library holds.
go-lib: lib
	@command -v $(GO) >/dev/null 2>&1 || { echo "error: 'go' 1.$(GO_MIN_MINOR) or newer is required for the Go binding (see README: Requirements)"; exit 1; }
	@mkdir -p $(dir $(GO_SHARED))
	@cmp -s $(STATICLIB) $(GO_ARCHIVE) || cp $(STATICLIB) $(GO_ARCHIVE)
	@cmp -s $(LIB_DIR)/libtrackstats.so $(GO_SHARED) || cp $(LIB_DIR)/libtrackstats.so $(GO_SHARED)

$(GO_OVERLAY): $(GO_DIR)/trackstats/testdata/nocgo_loader_test.go
	@mkdir -p $(dir $@)
	@printf '{"Replace":{"%s":"%s"}}\n' $(CURDIR)/$(GO_DIR)/trackstats/zz_nocgo_loader_test.go $(CURDIR)/$< > $@

# About a minute on 2 cores once Go's build cache holds the race-instrumented
# standard library (the first run builds it). The loader in a cgo build runs
# without -race: the race detector makes sync.Pool drop items at random, and
# the loader's pooled frames would then fail the tests that count
# allocations.
test-go: check-go $(GO_OVERLAY)
	@cmp -s $(HEADER) $(GO_HEADER) || { echo "error: $(GO_HEADER) differs from $(HEADER): run 'make header' and commit it"; exit 1; }
	@$(GO_DIR)/scripts/check_modules.sh $(GO_DIR)
	@cd $(GO_DIR) && bad=$$($$($(GO) env GOROOT)/bin/gofmt -l .) && [ -z "$$bad" ] \
	  || { echo "error: gofmt would change: $$bad (run gofmt -w $(GO_DIR))"; exit 1; }
	@set -e; for m in $(GO_MODULES); do \
	  echo "go vet, cgo and CGO_ENABLED=0: $$m"; \
	  (cd $(GO_DIR)/$$m && $(GO_ENV) $(GO) vet ./... && $(GO_NOCGO_ENV) $(GO) vet ./...); \
	done
	@set -e; for m in $(GO_MODULES); do \
	  echo "go test -race (cgo): $$m"; \
	  (cd $(GO_DIR)/$$m && $(GO_ENV) $(GO) test -race -count=1 -timeout 300s ./...); \
	  echo "go test (CGO_ENABLED=0, the loader): $$m"; \
	  (cd $(GO_DIR)/$$m && $(GO_NOCGO_ENV) $(GO) test -count=1 -timeout 300s -overlay $(CURDIR)/$(GO_OVERLAY) ./...); \
	done
	@echo "go test -tags trackstats_purego (the loader in a cgo build): trackstats"
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 -timeout 300s -tags trackstats_purego -overlay $(CURDIR)/$(GO_OVERLAY) ./trackstats

# About 4 minutes on 2 cores: 5 runs of each benchmark, 1 s each (the
# 100k-track ones run once per count); BenchmarkRecordParallel once more per
# GOMAXPROCS in 1, 2, 4, ... up to the cores. The SFU-shaped ones
# (sfu_bench_test.go): BenchmarkSFU in 5 runs of the test binary, so that
# its cases interleave (ABAB) instead of each running 5 times in a row, then
# BenchmarkSFUProcess once (its three children at once, SFU_SECONDS each,
# 60 by default); then the loader against cgo in one cgo process
# (BenchmarkSlowPath, BenchmarkOpenClose) and RecordUp without cgo
# (BenchmarkRecordNoCgo, the loader laid over). Medians: benchstat
# $(BENCH_GO_OUT).
BENCH_GO_CPUS := $(shell n=$$(nproc 2>/dev/null || echo 1); c=1; l=; \
	while [ $$c -lt $$n ]; do l="$$l$$c,"; c=$$((c * 2)); done; echo "$$l$$n")
BENCH_GO_TEST := $(CURDIR)/build/go/trackstats.test
SFU_SECONDS ?= 60
bench-go: check-go $(GO_OVERLAY)
	@mkdir -p $(dir $(BENCH_GO_OUT))
	cd $(GO_DIR) && set -o pipefail && { \
	  $(GO_ENV) $(GO) test -run '^$$' -bench . -skip 'Parallel|SFU' -benchmem -count 5 -benchtime 1s -timeout 600s ./... && \
	  $(GO_ENV) $(GO) test -run '^$$' -bench 'Parallel' -cpu $(BENCH_GO_CPUS) -benchmem -count 5 -benchtime 1s -timeout 600s ./... && \
	  $(GO_ENV) $(GO) test -c -o $(BENCH_GO_TEST) ./trackstats && cd trackstats && \
	  for i in 1 2 3 4 5; do $(BENCH_GO_TEST) -test.run '^$$' -test.bench 'SFU$$' -test.benchtime 0.5s -test.timeout 600s || exit 1; done && \
	  TRACKSTATS_SFU_SECONDS=$(SFU_SECONDS) $(BENCH_GO_TEST) -test.run '^$$' -test.bench 'SFUProcess' -test.benchtime 1x -test.timeout 0 && \
	  cd .. && $(GO_ENV) $(GO) test -run '^$$' -bench 'SlowPath|OpenClose' -benchmem -count 5 -benchtime 1s -timeout 600s ./tsnocgo && \
	  $(GO_NOCGO_ENV) $(GO) test -run '^$$' -bench 'RecordNoCgo' -benchmem -count 5 -benchtime 1s -timeout 600s -overlay $(CURDIR)/$(GO_OVERLAY) ./trackstats; \
	} | tee $(CURDIR)/$(BENCH_GO_OUT)
	@echo "bench-go: results in $(BENCH_GO_OUT); medians: go run golang.org/x/perf/cmd/benchstat@latest $(BENCH_GO_OUT)"

# Integration modules under cbindings/go bring their own fragments.
include $(GO_DIR)/tslivekit/tslivekit.mk
