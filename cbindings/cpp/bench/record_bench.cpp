// record_up against the baseline it replaces: one std::atomic<uint64_t>
// fetch_add on a cache-line-padded slot, measured in the same run. Prints the
// ratio of the medians (goal: record_up <= 1.2x the baseline). Also shows the
// cost of the same record through the C function call, for reference.
//
// record_up_packet (data-track packets with sequence numbers) against
// record_up in the same run (goal: <= 2x): in order, and a mixed stream with
// loss, late packets and duplicates; and through the C function.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
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

/// Next sequence number, every packet ends a frame: the rule's common path.
void BM_RecordUpPacket(benchmark::State& state) {
    trackstats::Registry reg;
    trackstats::Track t = reg.open("PA_bench", "TR_bench");
    std::uint64_t n = kBytes;
    std::uint16_t seq = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(n);
        t.record_up_packet(n, seq++, true);
    }
}

struct Pkt {
    std::uint16_t seq;
    bool eof;
};

/// One lap of the 16-bit sequence space with about 5% of the numbers lost,
/// 5% arriving 3 places late and 1% duplicated; every 4th packet ends a
/// frame. The lap ends where the next one starts in order, so replaying it
/// is one long stream.
std::vector<Pkt> mixed_stream() {
    std::mt19937 rng(7);
    std::vector<Pkt> out;
    std::vector<std::pair<std::uint32_t, std::uint16_t>> late;  // (due, seq)
    auto emit = [&](std::uint16_t s) { out.push_back({s, out.size() % 4 == 3}); };
    for (std::uint32_t k = 0; k < 65536; k++) {
        const auto r = static_cast<std::uint32_t>(rng() % 100);
        const auto s = static_cast<std::uint16_t>(k);
        if (r < 5) {
            // lost
        } else if (r < 10) {
            late.emplace_back(k + 3, s);
        } else {
            emit(s);
            if (r == 10) {
                emit(s);
            }
        }
        while (!late.empty() && late.front().first <= k) {
            emit(late.front().second);
            late.erase(late.begin());
        }
    }
    for (const auto& l : late) {
        emit(l.second);
    }
    return out;
}

void BM_RecordUpPacketMixed(benchmark::State& state) {
    const std::vector<Pkt> pkts = mixed_stream();
    trackstats::Registry reg;
    trackstats::Track t = reg.open("PA_bench", "TR_bench");
    std::uint64_t n = kBytes;
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(n);
        const Pkt p = pkts[i];
        i = i + 1 == pkts.size() ? 0 : i + 1;
        t.record_up_packet(n, p.seq, p.eof);
    }
}

void BM_RecordUpPacketCCall(benchmark::State& state) {
    trackstats::Registry reg;
    trackstats::Track t = reg.open("PA_bench", "TR_bench");
    trackstats_track* raw = t.get();
    std::uint64_t n = kBytes;
    std::uint16_t seq = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(n);
        trackstats_record_up_packet(raw, n, seq++, true);
    }
}

BENCHMARK(BM_AtomicFetchAdd);
BENCHMARK(BM_RecordUp);
BENCHMARK(BM_RecordUpCCall);
BENCHMARK(BM_RecordUpPacket);
BENCHMARK(BM_RecordUpPacketMixed);
BENCHMARK(BM_RecordUpPacketCCall);

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
    for (const auto& [name, label] : {std::pair{"BM_RecordUpPacket", "record_up_packet, in order"},
                                      std::pair{"BM_RecordUpPacketMixed", "record_up_packet, mixed"},
                                      std::pair{"BM_RecordUpPacketCCall", "trackstats_record_up_packet (C call)"}}) {
        const double ns = rep.ns[name];
        if (ns > 0) {
            std::printf("%s / record_up = %.3f / %.3f ns = %.2fx (goal <= 2x): %s\n", label, ns, inline_ns,
                        ns / inline_ns, ns / inline_ns <= 2.0 ? "met" : "MISSED");
        }
    }
    return 0;
}
