# Metrics where Go hosts look (issue 18): the client_golang collector
# (cbindings/go/tsprom) and the OpenTelemetry producer (cbindings/go/tsotel),
# each its own Go module found through cbindings/go/go.work, and a fleet of
# three Go SFU processes scraped by a real Prometheus.
#   make test-metrics    vet, gofmt and the tests of the collector and the
#                        producer (race detector)
#   make test-fleet      the fleet on a real Prometheus (below)
#   make bench-metrics   Collect and Produce at 1k, 100k and 1M tracks (below)
# Uses GO, GO_ENV and check-go from cbindings/go/go.mk.
METRICS_GO_DIRS := cbindings/go/tsprom cbindings/go/tsotel

TEST_TARGETS += test-metrics
.PHONY: test-metrics

test-metrics: check-go lib
	@for d in $(METRICS_GO_DIRS); do \
	  ( cd $$d && bad=$$($$($(GO) env GOROOT)/bin/gofmt -l .) && [ -z "$$bad" ] ) \
	    || { echo "error: gofmt would change files in $$d (run gofmt -w $$d)"; exit 1; }; \
	done
	for d in $(METRICS_GO_DIRS); do \
	  ( cd $$d && $(GO_ENV) $(GO) vet ./... && $(GO_ENV) $(GO) test -race -count=1 -timeout 300s ./... ) || exit 1; \
	done

# The fleet: three Go SFU processes (home, relay with nil handles, edge) using
# the collector, one Debian prometheus scraping them (installed if missing);
# PromQL sums by direction and by node must equal the nodes' ground truth.
# About 15 s.
TEST_TARGETS += test-fleet
.PHONY: test-fleet
FLEET_NODE := $(CURDIR)/build/go/fleetnode

test-fleet: check-go lib
	@command -v python3 >/dev/null 2>&1 || { echo "error: python3 is required for the fleet test"; exit 1; }
	@mkdir -p $(dir $(FLEET_NODE))
	cd cbindings/go/tsprom && $(GO_ENV) $(GO) build -o $(FLEET_NODE) ./internal/fleetnode
	python3 scripts/fleet_e2e.py $(FLEET_NODE)

# One Collect and one Produce at 1k, 100k and 1M open tracks, aggregates only
# and with per-track series at the limit, each against its baseline in the
# same run (a client_golang CounterVec, an OpenTelemetry SDK counter of the
# same cardinality). About 4 minutes on 2 cores (opening 1M Go tracks is
# most of it); make bench-go (so make bench, into BENCHMARKS.md, section 8)
# runs it first.
BENCH_METRICS_OUT := build/go/bench-metrics.txt
.PHONY: bench-metrics

bench-metrics: check-go lib
	@mkdir -p $(dir $(BENCH_METRICS_OUT))
	set -o pipefail && for d in $(METRICS_GO_DIRS); do \
	  ( cd $$d && $(GO_ENV) $(GO) test -run '^$$' -bench . -benchmem -count 5 -benchtime 0.5s -timeout 900s . ) || exit 1; \
	done | tee $(CURDIR)/$(BENCH_METRICS_OUT)

bench-go: bench-metrics
