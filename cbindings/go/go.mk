# The Go modules (cbindings/go; README.md there).
#   make test-go          the main module and the loader: go vet, gofmt, the
#                         header copy's drift, every module's go.mod against
#                         go.work, the tests with cgo under the race detector
#                         and without cgo (the loader module), the loader in
#                         a cgo build (-tags trackstats_purego), and builds
#                         without cgo for other platforms.
#   make test-go-release  the modules as a user gets them (scripts/test_release.sh):
#                         go get from a file module proxy, vendored, no cgo,
#                         the system library, another Rust library beside it;
#                         test-go-release-all: the same for every platform.
#   make go-module        VERSION=vX.Y.Z (default: Cargo.toml's): the release,
#                         in build/go-module (the tree and a module proxy).
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
# Without cgo every module builds for the platforms Go servers ship to
# (LiveKit's releases: linux, windows, darwin; amd64 and arm64), whether or
# not a library can be loaded there.
GO_CROSS_PLATFORMS := linux/arm64 windows/amd64 darwin/arm64
BENCH_GO_OUT := build/go/bench.txt
GO_RELEASE_OUT := build/go-module
VERSION ?= v$(TRACKSTATS_VERSION)

TEST_TARGETS += test-go test-go-release
.PHONY: test-go test-go-release test-go-release-all check-go-release-tools go-module go-lib bench-go check-go

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
	@set -e; for m in $(GO_MODULES); do for p in $(GO_CROSS_PLATFORMS); do \
	  echo "go build, CGO_ENABLED=0, $$p: $$m"; \
	  (cd $(GO_DIR)/$$m && GOOS=$${p%/*} GOARCH=$${p#*/} $(GO_NOCGO_ENV) $(GO) build ./...); \
	done; done
	@echo "go test -tags trackstats_purego (the loader in a cgo build): trackstats"
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 -timeout 300s -tags trackstats_purego -overlay $(CURDIR)/$(GO_OVERLAY) ./trackstats

# The release as a user gets it, for this machine's platform.
GO_TEST_MODULE := build/go/release
GO_TEST_PREFIX := build/go/prefix
test-go-release: check-go check-go-release-tools
	$(MAKE) --no-print-directory go-module GO_RELEASE_OUT=$(GO_TEST_MODULE) GO_RELEASE_LIBS="$(GO_PLATFORM)=$(LIB_DIR)" GO_ARM64=
	rm -rf $(GO_TEST_PREFIX) && $(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(GO_TEST_PREFIX) >/dev/null
	GO=$(GO) GOTOOLCHAIN=local $(GO_DIR)/scripts/test_release.sh . $(GO_TEST_MODULE)/proxy $(VERSION) $(GO_TEST_PREFIX)

# The system-library build needs pkg-config, installed here when missing
# (as root, with apt-get).
check-go-release-tools:
	@command -v pkg-config >/dev/null 2>&1 || { echo "test-go-release: pkg-config is missing; installing it"; \
	  [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq pkg-config >/dev/null; } \
	  || { echo "error: pkg-config is required for test-go-release (Debian: apt-get install pkg-config)"; exit 1; }

# The same for the whole release (both platforms when arm64 can be built:
# see go-module), arm64 cross-built and, with qemu-user-static, run.
test-go-release-all: go-module check-go-release-tools
	rm -rf $(GO_TEST_PREFIX) && $(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(GO_TEST_PREFIX) >/dev/null
	GO=$(GO) GOTOOLCHAIN=local $(GO_DIR)/scripts/test_release.sh . $(GO_RELEASE_OUT)/proxy $(VERSION) $(GO_TEST_PREFIX)

# A release carries linux/amd64 and, when the aarch64 Rust target and
# Debian's gcc-aarch64-linux-gnu are installed, linux/arm64 (README: Releasing).
GO_ARM64_TARGET := aarch64-unknown-linux-gnu
GO_ARM64_CC := aarch64-linux-gnu-gcc
GO_RELEASE_LIBS ?= linux_amd64=$(LIB_DIR) $(if $(GO_ARM64),linux_arm64=$(TARGET_DIR)/$(GO_ARM64_TARGET)/release)
GO_ARM64 ?= $(shell rustup target list --installed 2>/dev/null | grep -qx $(GO_ARM64_TARGET) && command -v $(GO_ARM64_CC) >/dev/null && echo yes)
go-module: lib
	@[ "$(VERSION)" = "v$(TRACKSTATS_VERSION)" ] || { echo "error: VERSION=$(VERSION), but the library is $(TRACKSTATS_VERSION) (Cargo.toml): a Go release carries the library of its own version"; exit 1; }
ifneq ($(GO_ARM64),)
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$(GO_ARM64_CC) $(CARGO) build --release --lib --target $(GO_ARM64_TARGET)
endif
	$(GO_DIR)/scripts/go_module.py --repo . --version $(VERSION) --out $(GO_RELEASE_OUT) \
	  $(foreach l,$(GO_RELEASE_LIBS),--lib $(l)) $(if $(GO_ARM64),--strip-tool linux_arm64=aarch64-linux-gnu-strip)

# About 6 minutes on 2 cores. Five rounds, each running every benchmark
# once (1 s; BenchmarkSFU's cases 0.5 s; the 100k-track ones once), so that
# a noisy neighbour slows a benchmark and its baseline alike; then
# BenchmarkRecordParallel 5 times per GOMAXPROCS in 1, 2, 4, ... up to the
# cores; then BenchmarkSFUProcess once (its three children at once,
# SFU_SECONDS each, 60 by default). Medians: benchstat $(BENCH_GO_OUT).
# The test binaries:
#   trackstats.test        the package with cgo;
#   trackstats-nocgo.test  without cgo, the loader laid over (BenchmarkRecordNoCgo);
#   tsnocgo.test           the loader against cgo in one cgo process
#                          (BenchmarkSlowPath, BenchmarkOpenClose).
BENCH_GO_CPUS := $(shell n=$$(nproc 2>/dev/null || echo 1); c=1; l=; \
	while [ $$c -lt $$n ]; do l="$$l$$c,"; c=$$((c * 2)); done; echo "$$l$$n")
BENCH_GO_BIN := $(CURDIR)/build/go/bench
BENCH_GO_FLAGS := -test.run '^$$' -test.benchmem -test.benchtime 1s -test.timeout 600s
SFU_SECONDS ?= 60
bench-go: check-go $(GO_OVERLAY)
	@mkdir -p $(BENCH_GO_BIN)
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -c -o $(BENCH_GO_BIN)/trackstats.test ./trackstats
	cd $(GO_DIR) && $(GO_NOCGO_ENV) $(GO) test -c -overlay $(CURDIR)/$(GO_OVERLAY) -o $(BENCH_GO_BIN)/trackstats-nocgo.test ./trackstats
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -c -o $(BENCH_GO_BIN)/tsnocgo.test ./tsnocgo
	set -o pipefail && cd $(GO_DIR)/trackstats && { \
	  for i in 1 2 3 4 5; do \
	    $(BENCH_GO_BIN)/trackstats.test $(BENCH_GO_FLAGS) -test.bench . -test.skip 'Parallel|SFU' && \
	    $(BENCH_GO_BIN)/trackstats.test $(BENCH_GO_FLAGS) -test.bench 'SFU$$' -test.benchtime 0.5s && \
	    $(BENCH_GO_BIN)/trackstats-nocgo.test $(BENCH_GO_FLAGS) -test.bench 'RecordNoCgo' && \
	    $(BENCH_GO_BIN)/tsnocgo.test $(BENCH_GO_FLAGS) -test.bench 'SlowPath|OpenClose' || exit 1; \
	  done && \
	  $(BENCH_GO_BIN)/trackstats.test $(BENCH_GO_FLAGS) -test.bench 'Parallel' -test.count 5 -test.cpu $(BENCH_GO_CPUS) && \
	  TRACKSTATS_SFU_SECONDS=$(SFU_SECONDS) $(BENCH_GO_BIN)/trackstats.test -test.run '^$$' -test.bench 'SFUProcess' -test.benchtime 1x -test.timeout 0; \
	} | tee $(CURDIR)/$(BENCH_GO_OUT)
	@echo "bench-go: results in $(BENCH_GO_OUT); medians: go run golang.org/x/perf/cmd/benchstat@latest $(BENCH_GO_OUT)"

# Integration modules under cbindings/go bring their own fragments.
include $(GO_DIR)/tslivekit/tslivekit.mk
