// Invariant 1 through the C++ wrapper: with records from several std::threads
// racing window samples (1 ms windows), track closes, a concurrent consumer
// and registry shutdown, the reports sum to exactly what was recorded, per
// track and direction, in bytes and in messages.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "trackstats.hpp"

namespace {

constexpr std::size_t kTracks = 6;
constexpr std::size_t kWriters = 3;
constexpr int kRecordsPerWriter = 150000;

std::string track_id(std::size_t i) { return "TR_" + std::to_string(i); }

/// What one writer recorded, per track and direction.
struct Recorded {
    tstest::SumMap sums;
};

/// Records kRecordsPerWriter messages spread over `tracks`, sizes 1..1500
/// with now and then one above the inline limit (the library call path).
void record_messages(const std::vector<trackstats::Track>& tracks, std::uint32_t seed, Recorded& out,
           std::atomic<int>& progress) {
    for (int i = 0; i < kRecordsPerWriter; i++) {
        seed = seed * 1664525u + 1013904223u;
        const std::size_t t = (seed >> 4) % kTracks;
        std::uint64_t n = 1 + (seed >> 12) % 1500;
        if ((seed >> 8) % 4096 == 0) {
            n = TRACKSTATS_MAX_INLINE_BYTES + 1 + (seed >> 20);
        }
        const std::size_t d = (seed >> 24) & 1;
        if (d == 0) {
            tracks[t].record_up(n);
        } else {
            tracks[t].record_down(n);
        }
        out.sums[t].bytes[d] += n;
        out.sums[t].messages[d] += 1;
        if (i % 1000 == 0) {
            // Relaxed: a progress hint for the closer, no data rides on it.
            progress.fetch_add(1000, std::memory_order_relaxed);
        }
        if (i % 3000 == 0) {
            // Stretch the run over many 1 ms windows.
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
    }
}

void expect_exact(const std::vector<Recorded>& recorded, const tstest::SumMap& got) {
    for (std::size_t t = 0; t < kTracks; t++) {
        for (std::size_t d = 0; d < 2; d++) {
            std::uint64_t want_b = 0, want_m = 0;
            for (const auto& r : recorded) {
                auto it = r.sums.find(t);
                if (it != r.sums.end()) {
                    want_b += it->second.bytes[d];
                    want_m += it->second.messages[d];
                }
            }
            auto it = got.find(t);
            const std::uint64_t got_b = it == got.end() ? 0 : it->second.bytes[d];
            const std::uint64_t got_m = it == got.end() ? 0 : it->second.messages[d];
            EXPECT_EQ(got_b, want_b) << "bytes, track " << t << " direction " << d;
            EXPECT_EQ(got_m, want_m) << "messages, track " << t << " direction " << d;
            EXPECT_GT(want_m, 0u) << "the run recorded nothing on track " << t << " direction " << d;
        }
    }
}

std::vector<trackstats::Track> open_tracks(trackstats::Registry& reg) {
    std::vector<trackstats::Track> tracks;
    for (std::size_t i = 0; i < kTracks; i++) {
        tracks.push_back(reg.open("PA_pub", track_id(i), "SE", i));
    }
    return tracks;
}

}  // namespace

TEST(ExactlyOnce, RecordsRacingSamplesClosesAndAConsumer) {
    trackstats::Config cfg;
    cfg.interval = std::chrono::milliseconds(1);
    trackstats::Registry reg(cfg);
    std::vector<trackstats::Track> tracks = open_tracks(reg);

    tstest::SumMap got;
    std::size_t finals = 0, lates = 0, misattributed = 0;
    std::set<std::uint64_t> window_ends;
    std::thread consumer([&] {
        trackstats::Batch batch(256);
        tstest::drain_until_closed(reg, batch, [&](const trackstats::Report& r) {
            tstest::add(got, r);
            window_ends.insert(r.end_unix_ns);
            finals += r.is_final() ? 1u : 0u;
            lates += r.is_late() ? 1u : 0u;
            // The key must be the one opened with this user_data.
            if (r.user_data >= kTracks || r.track_id != track_id(r.user_data)) {
                misattributed++;
            }
        });
    });

    std::vector<Recorded> recorded(kWriters);
    std::atomic<int> progress{0};
    std::vector<std::thread> writers;
    for (std::size_t w = 0; w < kWriters; w++) {
        writers.emplace_back(record_messages, std::cref(tracks), 77u + static_cast<std::uint32_t>(w), std::ref(recorded[w]),
                             std::ref(progress));
    }
    // Close the tracks one by one while the writers are still recording.
    std::thread closer([&] {
        const int total = static_cast<int>(kWriters) * kRecordsPerWriter;
        for (std::size_t t = 0; t < kTracks; t++) {
            const int at = static_cast<int>((t + 1) * static_cast<std::size_t>(total) / (kTracks + 2));
            while (progress.load(std::memory_order_relaxed) < at) {
                std::this_thread::yield();
            }
            tracks[t].close();
        }
    });
    for (auto& w : writers) {
        w.join();
    }
    closer.join();

    // Totals are exact once the writers stop, before any release.
    for (std::size_t t = 0; t < kTracks; t++) {
        const trackstats::Totals tot = tracks[t].totals();
        std::uint64_t up = 0, down = 0;
        for (const auto& r : recorded) {
            auto it = r.sums.find(t);
            if (it != r.sums.end()) {
                up += it->second.bytes[0];
                down += it->second.bytes[1];
            }
        }
        EXPECT_EQ(tot.up_bytes, up) << "totals, track " << t;
        EXPECT_EQ(tot.down_bytes, down) << "totals, track " << t;
    }

    tracks.clear();  // release every track: late bytes are still reported
    reg.close();
    consumer.join();

    expect_exact(recorded, got);
    EXPECT_EQ(misattributed, 0u);
    EXPECT_GT(finals, 0u);
    EXPECT_GT(lates, 0u) << "no record landed after a close: the race was not exercised";
    EXPECT_GE(window_ends.size(), 10u) << "too few windows: records did not race samples";
    EXPECT_EQ(reg.stats().live_slots, 0u);
}

TEST(ExactlyOnce, RecordsRacingRegistryShutdown) {
    trackstats::Config cfg;
    cfg.interval = std::chrono::milliseconds(1);
    trackstats::Registry reg(cfg);
    std::vector<trackstats::Track> tracks = open_tracks(reg);

    std::vector<Recorded> recorded(kWriters);
    std::atomic<int> progress{0};
    std::vector<std::thread> writers;
    for (std::size_t w = 0; w < kWriters; w++) {
        writers.emplace_back(record_messages, std::cref(tracks), 991u + static_cast<std::uint32_t>(w), std::ref(recorded[w]),
                             std::ref(progress));
    }
    while (progress.load(std::memory_order_relaxed) < static_cast<int>(kWriters) * kRecordsPerWriter / 3) {
        std::this_thread::yield();
    }
    reg.close();  // final-flushes every track while the writers go on
    EXPECT_THROW((void)reg.open("PA_late", "TR_late"), trackstats::Error);
    for (auto& w : writers) {
        w.join();
    }
    // Bytes after the shutdown come out (flagged late) when each track is
    // released; they are drainable even though the registry is closed.
    tracks.clear();

    tstest::SumMap got;
    trackstats::Batch batch(256);
    tstest::drain_now(reg, batch, [&](const trackstats::Report& r) { tstest::add(got, r); });
    expect_exact(recorded, got);
}
