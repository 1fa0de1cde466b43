// Recording in the shape of an SFU: N publishers, each forwarded to 10
// subscribers, every message recorded once up and 10 times down, each record
// finding its track's line cold (goal: net cost per record at most 1.3x the
// bare-atomic limit of the same access pattern).
//
// The host model is the one of benches/sfu.rs and
// cbindings/go/trackstats/sfu_bench_test.go: a publisher array, each
// publisher holding its up track's handles and a list of its Down objects,
// one heap object per subscriber, made as the subscriptions arrive in a
// shuffled order; publishers take turns, one message each, its size from a
// fixed mix; the host bumps its own counters in every Down it forwards to.
// Cases differ only in the handle the host holds per track:
//   none        no recording (the host's own work, subtracted from the rest)
//   bare        fetch_add on a std::atomic alone on its 128 bytes, one
//               pointer away, the words in open order in one array: the
//               physical limit of the pattern
//   trackstats  a trackstats::Track held in the host's object (its inline
//               record on the slot's window word), in a registry with 1 s
//               windows whose reports a consumer thread takes with wait()
//   livekit     LiveKit's BytesTrackStats counters, one heap object per
//               track, four atomic adds per message
// One iteration is one message (11 records). Google Benchmark times the
// benchmark thread's CPU time; run with --benchmark_repetitions and
// --benchmark_enable_random_interleaving=true so that load changes reach
// every case alike. Where the machine has hardware counters, each case
// also reports L1D and cache misses per record.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "perf_counters.hpp"
#include "trackstats.hpp"

namespace {

constexpr std::size_t kFanOut = 10;
constexpr std::size_t kRecords = 1 + kFanOut;  // per message
constexpr std::size_t kSizes = 4096;           // entries in the size table (a power of two)

/// splitmix64: the fixed sequence all three languages' SFU benches draw
/// sizes and subscription order from.
class SplitMix {
  public:
    explicit SplitMix(std::uint64_t seed) : s_(seed) {}
    std::uint64_t next() {
        s_ += 0x9E3779B97F4A7C15ULL;
        std::uint64_t z = s_;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

  private:
    std::uint64_t s_;
};

/// 55% video packets (900-1199 B), 35% audio packets (80-179 B), 10% data
/// messages (40-1039 B).
std::vector<std::uint64_t> message_sizes() {
    SplitMix rng(0x5EED0001);
    std::vector<std::uint64_t> out(kSizes);
    for (auto& n : out) {
        const std::uint64_t r = rng.next();
        const std::uint64_t v = r >> 32;
        const std::uint64_t c = r % 100;
        n = c < 55 ? 900 + v % 300 : c < 90 ? 80 + v % 100 : 40 + v % 1000;
    }
    return out;
}

/// Every (publisher, subscriber) pair, in the order the subscriptions
/// arrive: shuffled (Fisher-Yates on the fixed sequence).
std::vector<std::pair<std::size_t, std::size_t>> subscription_order(std::size_t publishers) {
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    pairs.reserve(publishers * kFanOut);
    for (std::size_t p = 0; p < publishers; p++) {
        for (std::size_t s = 0; s < kFanOut; s++) {
            pairs.emplace_back(p, s);
        }
    }
    SplitMix rng(0x5EED0002);
    for (std::size_t i = pairs.size() - 1; i > 0; i--) {
        std::swap(pairs[i], pairs[rng.next() % (i + 1)]);
    }
    return pairs;
}

/// A bare counter alone on its 128 bytes (its line and the adjacent-line
/// prefetcher's pair), as a trackstats slot is.
struct alignas(128) PaddedWord {
    std::atomic<std::uint64_t> word{0};
};

/// LiveKit's BytesTrackStats counters: per side, window and total bytes and
/// messages.
struct LiveKitCounters {
    std::array<std::atomic<std::uint64_t>, 4> recv{};
    std::array<std::atomic<std::uint64_t>, 4> send{};
};

/// What the host holds per track; each case sets one of them.
struct Handles {
    trackstats::Track track;
    std::atomic<std::uint64_t>* word = nullptr;
    LiveKitCounters* lk = nullptr;
};

/// The host's object for one subscriber's copy of a track.
struct Down {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    Handles h;
};

struct Publisher {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    Handles h;
    std::vector<std::unique_ptr<Down>> downs;
};

enum class Case { none, bare, trackstats, livekit };

template <Case C>
inline void record(const Handles& h, std::uint64_t n, bool up) {
    if constexpr (C == Case::bare) {
        h.word->fetch_add(trackstats::detail::message_one | n, std::memory_order_relaxed);
    } else if constexpr (C == Case::trackstats) {
        if (up) {
            h.track.record_up(n);
        } else {
            h.track.record_down(n);
        }
    } else if constexpr (C == Case::livekit) {
        auto& side = up ? h.lk->recv : h.lk->send;
        side[0].fetch_add(n, std::memory_order_relaxed);
        side[1].fetch_add(1, std::memory_order_relaxed);
        side[2].fetch_add(n, std::memory_order_relaxed);
        side[3].fetch_add(1, std::memory_order_relaxed);
    } else {
        (void)h, (void)n, (void)up;
    }
}

class Host {
  public:
    /// Makes the handles first, in the order a host opens them (the
    /// publishers' up tracks, then each subscription as it arrives), by
    /// open(p, sub, handles) with sub < 0 for up; then the host's own
    /// objects in the same order, so the host's layout is the same in every
    /// case.
    template <class Open>
    Host(std::size_t publishers, Open&& open) : pubs_(publishers), sizes_(message_sizes()) {
        const auto order = subscription_order(publishers);
        for (std::size_t p = 0; p < publishers; p++) {
            open(p, -1, pubs_[p].h);
        }
        std::vector<Handles> downs(order.size());
        for (std::size_t i = 0; i < order.size(); i++) {
            open(order[i].first, static_cast<long>(order[i].second), downs[i]);
        }
        for (auto& p : pubs_) {
            p.downs.reserve(kFanOut);
        }
        for (std::size_t i = 0; i < order.size(); i++) {
            auto d = std::make_unique<Down>();
            d->h = std::move(downs[i]);
            pubs_[order[i].first].downs.push_back(std::move(d));
        }
    }

    template <Case C>
    void forward(std::uint64_t messages) {
        std::size_t p = next_;
        std::size_t k = next_size_;
        for (std::uint64_t i = 0; i < messages; i++) {
            const std::uint64_t n = sizes_[k];
            k = (k + 1) & (kSizes - 1);
            Publisher& pub = pubs_[p];
            p = p + 1 == pubs_.size() ? 0 : p + 1;
            pub.packets++;
            pub.bytes += n;
            record<C>(pub.h, n, true);
            for (auto& d : pub.downs) {
                d->packets++;
                d->bytes += n;
                record<C>(d->h, n, false);
            }
        }
        next_ = p;
        next_size_ = k;
    }

    std::size_t publishers() const noexcept { return pubs_.size(); }

  private:
    std::vector<Publisher> pubs_;
    std::vector<std::uint64_t> sizes_;
    std::size_t next_ = 0;
    std::size_t next_size_ = 0;
};

/// One workload's four hosts, its registry and its consumer, built on
/// first use and kept for every repetition.
class World {
  public:
    explicit World(std::size_t publishers)
        : reg_(one_second_windows()),
          consumer_([this] { consume(); }),
          none_(publishers, [](std::size_t, long, Handles&) {}),
          words_(publishers * kRecords),
          bare_(publishers, [this](std::size_t, long, Handles& h) { h.word = &words_[next_word_++].word; }),
          tracks_(publishers,
                  [this, publishers](std::size_t p, long sub, Handles& h) {
                      const std::size_t who = sub < 0 ? p : (p + 1 + static_cast<std::size_t>(sub)) % publishers;
                      char participant[32];
                      char track[32];
                      std::snprintf(participant, sizeof participant, "PA_%06zu", who);
                      std::snprintf(track, sizeof track, "TR_%06zu", p);
                      h.track = reg_.open(participant, track, "US", ++user_data_);
                  }),
          livekit_(publishers, [this](std::size_t, long, Handles& h) {
              models_.push_back(std::make_unique<LiveKitCounters>());
              h.lk = models_.back().get();
          }) {}

    ~World() {
        reg_.close();
        consumer_.join();
    }

    World(const World&) = delete;
    World& operator=(const World&) = delete;

    Host& host(Case c) {
        switch (c) {
            case Case::none:
                return none_;
            case Case::bare:
                return bare_;
            case Case::trackstats:
                return tracks_;
            case Case::livekit:
                break;
        }
        return livekit_;
    }

    std::uint64_t reports_taken() const noexcept { return taken_.load(std::memory_order_relaxed); }

  private:
    static trackstats::Config one_second_windows() {
        trackstats::Config c;
        c.interval = std::chrono::milliseconds(1000);
        return c;
    }

    void consume() {
        trackstats::Batch batch(4096);
        while (reg_.wait(batch, std::chrono::milliseconds(100))) {
            taken_.fetch_add(batch.size(), std::memory_order_relaxed);
        }
    }

    trackstats::Registry reg_;
    std::atomic<std::uint64_t> taken_{0};
    std::thread consumer_;
    Host none_;
    std::vector<PaddedWord> words_;
    std::size_t next_word_ = 0;
    Host bare_;
    std::uint64_t user_data_ = 0;
    Host tracks_;
    std::vector<std::unique_ptr<LiveKitCounters>> models_;
    Host livekit_;
};

std::map<std::size_t, std::unique_ptr<World>>& worlds() {
    static std::map<std::size_t, std::unique_ptr<World>> w;
    return w;
}

World& world(std::size_t publishers) {
    auto& w = worlds()[publishers];
    if (!w) {
        w = std::make_unique<World>(publishers);
    }
    return *w;
}

/// Says once why misses are not counted.
void no_counters(const std::string& why) {
    static bool said = false;
    if (!said) {
        std::fprintf(stderr, "sfu_bench: misses not counted: %s\n", why.c_str());
        said = true;
    }
}

template <Case C>
void BM_SFU(benchmark::State& state, std::size_t publishers) {
    Host& host = world(publishers).host(C);
    perf::Counters counters;
    const bool counting = counters.open();
    host.forward<C>(host.publishers());  // one round, untimed: every line touched once
    if (counting) {
        counters.start();
    }
    for (auto _ : state) {
        host.forward<C>(1);
    }
    const auto misses = counters.stop();
    const double records = static_cast<double>(state.iterations()) * kRecords;
    state.SetItemsProcessed(static_cast<std::int64_t>(records));
    if (counting) {
        for (std::size_t i = 0; i < misses.size(); i++) {
            state.counters[std::string(perf::event_names[i]) + "/record"] = static_cast<double>(misses[i]) / records;
        }
    } else {
        no_counters(counters.why());
    }
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    for (const std::size_t n : {std::size_t{1000}, std::size_t{10000}}) {
        const std::string w = "SFU/" + std::to_string(n) + "x" + std::to_string(kFanOut) + "/";
        benchmark::RegisterBenchmark((w + "none").c_str(), BM_SFU<Case::none>, n);
        benchmark::RegisterBenchmark((w + "bare").c_str(), BM_SFU<Case::bare>, n);
        benchmark::RegisterBenchmark((w + "trackstats").c_str(), BM_SFU<Case::trackstats>, n);
        benchmark::RegisterBenchmark((w + "livekit").c_str(), BM_SFU<Case::livekit>, n);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    for (auto& [n, w] : worlds()) {
        std::printf("SFU/%zux%zu: the consumer took %llu reports\n", n, kFanOut,
                    static_cast<unsigned long long>(w->reports_taken()));
    }
    worlds().clear();
    return 0;
}
