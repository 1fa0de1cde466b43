// record_up against the baseline it replaces: one std::atomic<uint64_t>
// fetch_add on a cache-line-padded slot, measured in the same run. Prints the
// ratio of the medians (goal: record_up <= 1.2x the baseline). Also shows the
// cost of the same record through the C function call, for reference.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "trackstats.hpp"

namespace {

constexpr std::uint64_t kBytes = 1200;  // a typical RTP packet

/// The baseline's counter: alone on its own 128-byte unit, as trackstats'
/// slots are, so neither side pays for false sharing.
struct alignas(128) PaddedSlot {
    std::atomic<std::uint64_t> word{0};
};

void BM_AtomicFetchAdd(benchmark::State& state) {
    PaddedSlot slot;
    std::uint64_t n = kBytes;
    for (auto _ : state) {
        benchmark::DoNotOptimize(n);  // keep the size a runtime value, as for record_up
        slot.word.fetch_add(n, std::memory_order_relaxed);
    }
    benchmark::DoNotOptimize(slot.word.load(std::memory_order_relaxed));
}

void BM_RecordUp(benchmark::State& state) {
    trackstats::Registry reg;  // a sampler thread, 5 s windows
    trackstats::Track t = reg.open("PA_bench", "TR_bench");
    std::uint64_t n = kBytes;
    for (auto _ : state) {
        benchmark::DoNotOptimize(n);
        t.record_up(n);
    }
}

void BM_RecordUpCCall(benchmark::State& state) {
    trackstats::Registry reg;
    trackstats::Track t = reg.open("PA_bench", "TR_bench");
    trackstats_track* raw = t.get();
    std::uint64_t n = kBytes;
    for (auto _ : state) {
        benchmark::DoNotOptimize(n);
        trackstats_record_up(raw, n);
    }
}

BENCHMARK(BM_AtomicFetchAdd);
BENCHMARK(BM_RecordUp);
BENCHMARK(BM_RecordUpCCall);

/// The console output, plus each benchmark's median (or, without
/// repetitions, its only run) CPU time in ns per iteration. CPU time, not
/// wall time: on a shared machine the wall clock also counts time the
/// benchmark thread spent descheduled, which is noise for a single-threaded
/// loop that never blocks.
class MedianReporter : public benchmark::ConsoleReporter {
  public:
    MedianReporter() : benchmark::ConsoleReporter(OO_Tabular) {}

    std::map<std::string, double> ns;

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) {
            const std::string name = r.run_name.function_name;
            if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
                ns[name] = r.GetAdjustedCPUTime();
                medians_[name] = true;
            } else if (r.run_type == Run::RT_Iteration && !medians_[name]) {
                ns[name] = r.GetAdjustedCPUTime();
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }

  private:
    std::map<std::string, bool> medians_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    MedianReporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    benchmark::Shutdown();
    const double base = rep.ns["BM_AtomicFetchAdd"];
    const double inline_ns = rep.ns["BM_RecordUp"];
    const double call_ns = rep.ns["BM_RecordUpCCall"];
    if (base <= 0 || inline_ns <= 0) {
        std::printf("record_up ratio: not measured (filtered out?)\n");
        return 0;
    }
    std::printf("\nmedian CPU time: atomic fetch_add %.3f ns, record_up %.3f ns, C call %.3f ns (record path %d)\n", base,
                inline_ns, call_ns, static_cast<int>(trackstats::record_path));
    std::printf("record_up / fetch_add = %.2fx (goal <= 1.2x): %s\n", inline_ns / base,
                inline_ns / base <= 1.2 ? "met" : "MISSED");
    return 0;
}
