# trackstats: `make demo` runs the simulated SFU, `make test` runs everything.
#
# Where each target is defined:
#   all lib header demo clean            this file
#   test test-rust test-header test-lint this file (each fragment adds its
#                                        suites to `make test`)
#   test-c test-c-abi                    cbindings/c/c.mk
#   test-cpp test-cpp-* bench-cpp        cbindings/cpp/cpp.mk
#   install                              mk/install.mk
#   test-janus                           cbindings/janus/janus.mk
#   test-go bench-go                     cbindings/go/go.mk
#   test-tslivekit bench-tslivekit       cbindings/go/tslivekit/tslivekit.mk
#   demo-sfu test-pion bench-pion        mk/pion.mk
#   test-reliability test-loom
#   test-faults test-valgrind            mk/reliability.mk
#   test-prometheus                      mk/prometheus.mk
#   test-metrics test-fleet bench-metrics mk/metrics.mk
#   bench bench-rust bench-report        mk/bench.mk
#   soak                                 mk/soak.mk (not in `make test`)

SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(CURDIR)/target
LIB_DIR := $(TARGET_DIR)/release
STATICLIB := $(LIB_DIR)/libtrackstats.a
SHAREDLIB := $(LIB_DIR)/libtrackstats.so
# The shared library's SONAME (libtrackstats.so.<abi>) is set by build.rs, the
# one place its rule lives, and read back from the library: SONAME is for the
# recipes of targets that depend on `lib` (make expands a recipe before running
# its first line).
READ_SONAME = readelf -d $(SHAREDLIB) | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p'
SONAME = $(shell $(READ_SONAME))
HEADER := include/trackstats.h
DEMO_ARGS ?=
PREFIX ?= /usr/local

# Targets the fragments add themselves to.
TEST_TARGETS := test-rust test-header test-lint
.PHONY: all lib demo test test-rust test-header test-lint header check-tools clean

all: lib

check-tools:
	@for t in cargo cc readelf; do \
	  command -v $$t >/dev/null 2>&1 || { echo "error: '$$t' is required but not installed (see README: Requirements)"; exit 1; }; \
	done

# The static and shared libraries every binding links. The SONAME link lets a
# program linked against $(SHAREDLIB) load it from the build tree.
lib: check-tools
	$(CARGO) build --release --lib
	@soname=$$($(READ_SONAME)); [ -n "$$soname" ] \
	  || { echo "error: $(SHAREDLIB) has no SONAME (see build.rs)"; exit 1; }; \
	  ln -sfn libtrackstats.so $(LIB_DIR)/$$soname

$(STATICLIB): lib

# The demo is its own package (examples/demo/Cargo.toml): building it
# compiles trackstats and the demo, none of the test or bench dependencies.
demo: check-tools
	$(CARGO) run --release -p trackstats-demo -- $(DEMO_ARGS)

# Also refreshes the copies that bindings keep (HEADER_COPIES: the Go
# package carries one in its module).
header:
	TRACKSTATS_HEADER_OUT=$(CURDIR)/$(HEADER) $(CARGO) build --release --lib
	@for f in $(HEADER_COPIES); do cp $(HEADER) $$f; done

# Regenerates the header to a scratch file and fails if it differs.
test-header: check-tools
	@mkdir -p $(TARGET_DIR)
	TRACKSTATS_HEADER_OUT=$(TARGET_DIR)/trackstats.h.check $(CARGO) build --release --lib
	@diff -u $(HEADER) $(TARGET_DIR)/trackstats.h.check \
	  || { echo "error: $(HEADER) is stale: run 'make header' and commit it"; exit 1; }
	@echo "header: no drift"

test-rust: check-tools
	$(CARGO) test --release --workspace --lib --bins --tests
	$(CARGO) bench --no-run

test-lint: check-tools
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

include mk/install.mk
include cbindings/c/c.mk
include cbindings/cpp/cpp.mk
include cbindings/go/go.mk
include cbindings/janus/janus.mk
include mk/reliability.mk
include mk/bench.mk
include mk/prometheus.mk
include mk/pion.mk
include mk/metrics.mk
include mk/soak.mk

test: $(TEST_TARGETS)
	@echo "make test: all suites passed"

clean:
	$(CARGO) clean
	rm -rf build
