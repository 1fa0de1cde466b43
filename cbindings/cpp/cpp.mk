# The C++ binding (cbindings/cpp): header-only trackstats.hpp over the C ABI.
#   make test-cpp    GoogleTest suite + example via ctest (build/cpp), again
#                    under ASan+UBSan (build/cpp-asan), then the install test
#                    (of `make install`, mk/install.mk).
#   make bench-cpp   Google Benchmark: record_up vs std::atomic fetch_add, and
#                    the SFU-shaped workloads (bench/sfu_bench.cpp).
CPP_DIR := cbindings/cpp
CPP_CMAKE := cmake -G Ninja -Wno-dev -DTRACKSTATS_ROOT=$(CURDIR)
CPP_CTEST := ctest --output-on-failure -j2 --timeout 180

TEST_TARGETS += test-cpp
.PHONY: test-cpp test-cpp-unit test-cpp-asan test-cpp-install bench-cpp check-cpp-tools

# cmake, ninja, a C++ compiler and GoogleTest; what is missing is installed
# (scripts/apt_install.sh).
CPP_HAVE_GTEST = test -f /usr/include/gtest/gtest.h \
	|| test -n "$$(find /usr/lib /usr/local/lib -name 'GTestConfig.cmake' 2>/dev/null | head -n1)"

check-cpp-tools:
	@missing=; \
	command -v cmake >/dev/null 2>&1 || missing="$$missing cmake"; \
	command -v ninja >/dev/null 2>&1 || missing="$$missing ninja-build"; \
	command -v c++ >/dev/null 2>&1 || missing="$$missing g++"; \
	$(CPP_HAVE_GTEST) || missing="$$missing libgtest-dev"; \
	[ -z "$$missing" ] || scripts/apt_install.sh "the C++ binding's tests" $$missing

test-cpp: test-cpp-unit test-cpp-asan test-cpp-install

test-cpp-unit: lib check-cpp-tools
	$(CPP_CMAKE) -S $(CPP_DIR) -B build/cpp -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/cpp
	cd build/cpp && $(CPP_CTEST)

# -O1 keeps the sanitized build quick to compile and still inlines the hot path;
# one standard (17, the minimum) keeps its build time down: the plain build
# already runs the suite under both record paths.
test-cpp-asan: lib check-cpp-tools
	$(CPP_CMAKE) -S $(CPP_DIR) -B build/cpp-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
	  -DTRACKSTATS_SANITIZE=ON -DTRACKSTATS_TEST_STANDARDS=17 -DTRACKSTATS_TEST_CCALL=OFF >/dev/null
	cmake --build build/cpp-asan
	cd build/cpp-asan && $(CPP_CTEST)

test-cpp-install: lib check-cpp-tools
	$(CPP_DIR)/tests/install_test.sh "$(MAKE)"

# Google Benchmark comes from Debian's libbenchmark-dev; installed here when
# missing (as root), never needed by `make test`.
bench-cpp: lib check-cpp-tools
	@if ! test -f /usr/include/benchmark/benchmark.h; then \
	  scripts/apt_install.sh bench-cpp libbenchmark-dev \
	    || { echo "bench-cpp: SKIPPED: Google Benchmark (libbenchmark-dev) is missing"; exit 0; }; \
	fi; \
	test -f /usr/include/benchmark/benchmark.h || exit 0; \
	set -e; \
	$(CPP_CMAKE) -S $(CPP_DIR) -B build/cpp-bench -DCMAKE_BUILD_TYPE=Release -DTRACKSTATS_BUILD_TESTS=OFF \
	  -DTRACKSTATS_BUILD_BENCH=ON >/dev/null; \
	cmake --build build/cpp-bench; \
	echo "machine: $$(lscpu | sed -n 's/^Model name: *//p' | head -n1), $$(nproc) cores"; \
	./build/cpp-bench/record_bench --benchmark_repetitions=$${BENCH_REPS:-10} --benchmark_report_aggregates_only=true --benchmark_color=false; \
	./build/cpp-bench/sfu_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
	  --benchmark_report_aggregates_only=true --benchmark_color=false
