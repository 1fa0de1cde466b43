# A real Prometheus (Debian's package, installed if missing) scrapes the demo
# and must agree with its ground truth: scripts/prometheus_e2e.py.
TEST_TARGETS += test-prometheus
.PHONY: test-prometheus

test-prometheus: check-tools
	@command -v python3 >/dev/null 2>&1 || { echo "error: python3 is required for the Prometheus test"; exit 1; }
	$(CARGO) build --release -p trackstats-demo
	python3 scripts/prometheus_e2e.py
