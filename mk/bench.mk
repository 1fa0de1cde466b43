# Benchmarks.
#   make bench         every Rust bench (criterion: record, tick, churn, seq,
#                      sfu; custom: latency, memory, jitter; and any other
#                      bench target), then bench-go and bench-cpp where the
#                      bindings define them (each with its SFU-shaped
#                      benches), then BENCHMARKS.md from this run's results.
#   make bench-rust    the Rust benches only.
#   make bench-report  rewrites BENCHMARKS.md from the results already there.
# About 5 minutes for the Rust part on 2 cores; run it on an idle machine.
BENCH_OUT := $(TARGET_DIR)/bench-results
BENCH_STAMP := $(BENCH_OUT)/.started
BENCH_SINCE ?=
PYTHON ?= python3

.PHONY: bench bench-rust bench-report check-bench-tools

check-bench-tools: check-tools
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: '$(PYTHON)' is required to write BENCHMARKS.md (Debian: apt-get install python3)"; exit 1; }

# A binding's bench target runs only if its fragment defines it (make -n
# fails on an unknown target). Its output is kept for the report. A failing
# part fails `make bench`, but only after the report is written.
# Under `make -n` a line naming $(MAKE) still runs; say what would run instead.
BENCH_DRY_RUN := $(findstring n,$(firstword -$(MAKEFLAGS)))

bench: check-bench-tools
	@mkdir -p $(BENCH_OUT) && touch $(BENCH_STAMP)
	@$(PYTHON) scripts/bench_report.py --write-machine $(BENCH_OUT)/machine.json
ifneq ($(BENCH_DRY_RUN),)
	@echo "bench: would run bench-rust, then bench-go and bench-cpp where defined, then bench-report"
else
	@status=0; \
	$(MAKE) --no-print-directory bench-rust || status=1; \
	for t in bench-go bench-cpp; do \
	  if $(MAKE) -n $$t >/dev/null 2>&1; then \
	    ( set -o pipefail; $(MAKE) --no-print-directory $$t 2>&1 | tee $(BENCH_OUT)/$$t.txt ) || { echo "bench: $$t failed"; status=1; }; \
	  else \
	    echo "bench: no $$t target here, skipped"; \
	  fi; \
	done; \
	$(MAKE) --no-print-directory bench-report BENCH_SINCE=$(BENCH_STAMP) || status=1; \
	exit $$status
endif

bench-rust: check-tools
	@mkdir -p $(BENCH_OUT)
	TRACKSTATS_BENCH_OUT=$(BENCH_OUT) $(CARGO) bench --benches

bench-report: check-bench-tools
	$(PYTHON) scripts/bench_report.py --criterion $(TARGET_DIR)/criterion --results $(BENCH_OUT) \
	  $(if $(BENCH_SINCE),--since $(BENCH_SINCE)) --out BENCHMARKS.md
