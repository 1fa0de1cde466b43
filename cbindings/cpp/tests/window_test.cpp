// Invariant 2 through the C++ wrapper: one record's bytes and its count land
// in the same window. Every message has size S, so every report (plain,
// final, late or merged by a lagging consumer) must have bytes == S * messages.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "trackstats.hpp"

TEST(WindowConsistency, EveryReportIsAMultipleOfTheMessageSize) {
    constexpr std::uint64_t kSize = 1187;
    constexpr std::size_t kTracks = 3;
    trackstats::Config cfg;
    cfg.interval = std::chrono::milliseconds(1);
    trackstats::Registry reg(cfg);
    std::vector<trackstats::Track> tracks;
    for (std::size_t i = 0; i < kTracks; i++) {
        tracks.push_back(reg.open("PA_w", "TR_w" + std::to_string(i), "", i));
    }

    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> recorded{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; w++) {
        writers.emplace_back([&, w] {
            std::uint64_t n = 0;
            // Relaxed: a stop flag; the join below orders everything after it.
            while (!stop.load(std::memory_order_relaxed)) {
                for (int i = 0; i < 256; i++, n++) {
                    const trackstats::Track& t = tracks[(n + static_cast<std::uint64_t>(w)) % kTracks];
                    if (n % 2 == 0) {
                        t.record_up(kSize);
                    } else {
                        t.record_down(kSize);
                    }
                }
            }
            recorded.fetch_add(n, std::memory_order_relaxed);
        });
    }

    std::uint64_t reports = 0, bad = 0, messages = 0;
    auto check = [&](const trackstats::Report& r) {
        reports++;
        messages += r.messages;
        if (r.bytes != kSize * r.messages) {
            bad++;
            ADD_FAILURE() << "report with " << r.bytes << " bytes for " << r.messages << " messages";
        }
    };
    std::thread consumer([&] {
        trackstats::Batch batch(64);
        // A slow consumer: pending reports merge while it sleeps.
        while (reg.wait(batch, std::chrono::milliseconds(5))) {
            for (const auto& r : batch) {
                check(r);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(3));
        }
    });

    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    tracks[0].close();  // a close racing the records on it
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.store(true, std::memory_order_relaxed);
    for (auto& w : writers) {
        w.join();
    }
    tracks.clear();
    reg.close();
    consumer.join();

    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(messages, recorded.load()) << "every message reported once";
    EXPECT_GE(reports, 10u) << "too few windows to test anything";
    std::printf("window consistency: %llu reports, %llu messages, %llu merged\n",
                static_cast<unsigned long long>(reports), static_cast<unsigned long long>(messages),
                static_cast<unsigned long long>(reg.stats().reports_merged));
}
