# Reliability suites (docs/reliability.md): loom models of the
# record/tick/close/release/registry-close protocol, sampler fault injection,
# and valgrind memcheck. The randomized C ABI sequences (tests/abi_sequences.rs)
# and the bad-input tests (tests/bad_input.rs) run in test-rust.
#
# loom (a cfg) and fault-injection (a feature) each build in their own target
# dir: in target/release they would rebuild, and for this cdylib crate
# overwrite, the library every other suite links.

LOOM_PREEMPTIONS ?= 3
# bad_input tests that free what they allocate (the others leak their sink
# contexts on purpose, to outlive a possibly deadlocked thread).
VALGRIND_BAD_INPUT := free_with_tracks release_before_close double_close null_ empty_ invalid_ ids_ \
  batch_capacity unknown_ calls_on_a_closed zero_and_absurd

TEST_TARGETS += test-reliability
.PHONY: test-reliability test-loom test-faults test-valgrind

test-reliability: test-loom test-faults test-valgrind

test-loom: check-tools
	RUSTFLAGS="--cfg trackstats_loom" LOOM_MAX_PREEMPTIONS=$(LOOM_PREEMPTIONS) \
	  $(CARGO) test --release --test loom --test seq_loom --target-dir $(TARGET_DIR)/loom -- --nocapture --test-threads=2

test-faults: check-tools
	$(CARGO) test --release --features fault-injection --test faults --target-dir $(TARGET_DIR)/faults -- --nocapture

test-valgrind: build/c/example
	scripts/valgrind.sh ./build/c/example
	@bin=$$($(CARGO) test --release --test bad_input --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p'); \
	  test -n "$$bin" || { echo "error: could not build the bad_input test binary"; exit 1; }; \
	  scripts/valgrind.sh "$$bin" --test-threads=1 $(VALGRIND_BAD_INPUT)
