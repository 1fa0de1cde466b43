# pion: the trackstats interceptor (cbindings/go/tspion) and the WebRTC SFU
# example on it (examples/sfu), each its own Go module.
#   make demo-sfu     the SFU with its defaults (about 10 s): per-window tables,
#                     then each peer's own counts against trackstats' reports;
#                     SFU_ARGS="-publishers 3 -duration 20s" to change them
#   make test-pion    vet, gofmt, and both modules' tests under the race
#                     detector (the SFU's test is a short run); part of make test
#   make bench-pion   the interceptor's cost per packet against pion's stats
#                     interceptor and no interceptor (about 1.5 min), with the
#                     ratios; make bench-go (so make bench) runs it first
# Uses GO, GO_ENV and check-go from cbindings/go/go.mk.
TSPION_DIR := cbindings/go/tspion
SFU_DIR := examples/sfu
PION_GO_DIRS := $(TSPION_DIR) $(SFU_DIR)
SFU_ARGS ?=
BENCH_PION_OUT := build/go/bench-pion.txt
PYTHON ?= python3

TEST_TARGETS += test-pion
.PHONY: test-pion demo-sfu bench-pion

test-pion: check-go lib
	@for d in $(PION_GO_DIRS); do \
	  ( cd $$d && bad=$$($$($(GO) env GOROOT)/bin/gofmt -l .) && [ -z "$$bad" ] ) \
	    || { echo "error: gofmt would change files in $$d (run gofmt -w $$d)"; exit 1; }; \
	done
	for d in $(PION_GO_DIRS); do \
	  ( cd $$d && $(GO_ENV) $(GO) vet ./... && $(GO_ENV) $(GO) test -race -count=1 -timeout 300s ./... ) || exit 1; \
	done

demo-sfu: check-go lib
	cd $(SFU_DIR) && $(GO_ENV) $(GO) run . $(SFU_ARGS)

# Eight runs of the three cases in turn (not eight of each in a row), so
# that a noisy neighbour slows all three alike.
bench-pion: check-go lib
	@mkdir -p $(dir $(BENCH_PION_OUT))
	cd $(TSPION_DIR) && set -o pipefail && for i in 1 2 3 4 5 6 7 8; do \
	  $(GO_ENV) $(GO) test -run '^$$' -bench '^BenchmarkPion' -benchmem -count 1 -benchtime 1s -timeout 600s . \
	    || exit 1; \
	done | tee $(CURDIR)/$(BENCH_PION_OUT)
	$(PYTHON) $(TSPION_DIR)/bench_ratios.py $(BENCH_PION_OUT)

bench-go: bench-pion
