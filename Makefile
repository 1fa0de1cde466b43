# trackstats: `make demo` runs the simulated SFU, `make test` runs everything.
# Each binding adds its own targets from cbindings/<lang>/<lang>.mk.

SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(CURDIR)/target
LIB_DIR := $(TARGET_DIR)/release
STATICLIB := $(LIB_DIR)/libtrackstats.a
HEADER := include/trackstats.h
DEMO_ARGS ?=
PREFIX ?= /usr/local

# Targets the bindings add themselves to.
TEST_TARGETS := test-rust test-header test-lint
.PHONY: all lib demo test test-rust test-header test-lint header check-tools clean bench

all: lib

check-tools:
	@for t in cargo cc; do \
	  command -v $$t >/dev/null 2>&1 || { echo "error: '$$t' is required but not installed (see README: Requirements)"; exit 1; }; \
	done

# The static and shared libraries every binding links.
lib: check-tools
	$(CARGO) build --release --lib

$(STATICLIB): lib

demo: check-tools
	$(CARGO) run --release --example demo -- $(DEMO_ARGS)

header:
	TRACKSTATS_HEADER_OUT=$(CURDIR)/$(HEADER) $(CARGO) build --release --lib

# Regenerates the header to a scratch file and fails if it differs.
test-header: check-tools
	@mkdir -p $(TARGET_DIR)
	TRACKSTATS_HEADER_OUT=$(TARGET_DIR)/trackstats.h.check $(CARGO) build --release --lib
	@diff -u $(HEADER) $(TARGET_DIR)/trackstats.h.check \
	  || { echo "error: $(HEADER) is stale: run 'make header' and commit it"; exit 1; }
	@echo "header: no drift"

test-rust: check-tools
	$(CARGO) test --release --lib --tests --examples
	$(CARGO) bench --no-run

test-lint: check-tools
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings

include cbindings/c/c.mk
-include cbindings/cpp/cpp.mk
-include cbindings/go/go.mk
-include mk/reliability.mk
-include mk/bench.mk
-include mk/prometheus.mk
-include mk/pion.mk

test: $(TEST_TARGETS)
	@echo "make test: all suites passed"

clean:
	$(CARGO) clean
	rm -rf build
