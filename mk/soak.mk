# make soak: the Go binding's public API under churn for SOAK (10 minutes by
# default; make soak SOAK=2m for less), not part of make test. Three
# registries at a time (pull, report channel, dispatcher) with tracks
# opened, recorded from several goroutines, closed or dropped; stalled
# consumers and stuck listeners; runtime.GC and allocation churn; scrapes
# (Figures, the exposition, the tsprom collector); the registries closed
# and made anew every 30 s. It fails on a byte not reported exactly once, a
# slow scrape, RSS growth after warm-up, or goroutines, threads or file
# descriptors that do not come back between generations, and prints one
# line a minute (cbindings/go/tsprom/internal/soak). SOAK_ARGS passes more
# flags (-help lists them; -inject breaks one thing on purpose).
# Uses GO, GO_ENV and check-go from cbindings/go/go.mk.
SOAK ?= 10m
SOAK_ARGS ?=
SOAK_BIN := $(CURDIR)/build/go/soak
.PHONY: soak

soak: check-go lib
	@mkdir -p $(dir $(SOAK_BIN))
	cd cbindings/go/tsprom && $(GO_ENV) $(GO) build -o $(SOAK_BIN) ./internal/soak
	$(SOAK_BIN) -duration $(SOAK) $(SOAK_ARGS)
