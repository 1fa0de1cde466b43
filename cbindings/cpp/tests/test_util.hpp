// Shared helpers of the C++ test suite: manual-mode registries,
// per-(track, direction) sums of reports and drain loops.
#ifndef TRACKSTATS_TEST_UTIL_HPP
#define TRACKSTATS_TEST_UTIL_HPP

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trackstats.hpp"

namespace tstest {

/// Manual mode: windows close only when the test ticks.
inline trackstats::Config manual_config() {
    trackstats::Config cfg;
    cfg.mode = trackstats::Mode::Manual;
    return cfg;
}

/// A manual-mode registry that queues its reports.
inline trackstats::Registry manual() { return trackstats::Registry(manual_config()); }

/// Bytes and messages per direction ([0] up, [1] down).
struct Sums {
    std::uint64_t bytes[2] = {0, 0};
    std::uint64_t messages[2] = {0, 0};
};

/// Sums keyed by the report's user_data (the tests give each track its own).
using SumMap = std::map<std::uint64_t, Sums>;

inline void add(SumMap& m, const trackstats::Report& r) {
    const auto d = static_cast<std::size_t>(r.direction);
    m[r.user_data].bytes[d] += r.bytes;
    m[r.user_data].messages[d] += r.messages;
}

/// Drains without blocking until the queue is empty; returns reports seen.
template <class F>
std::size_t drain_now(trackstats::Registry& reg, trackstats::Batch& batch, F&& each) {
    std::size_t n = 0;
    while (reg.drain(batch) > 0) {
        for (const auto& r : batch) {
            each(r);
            n++;
        }
    }
    return n;
}

/// Waits for reports until the registry is closed and drained (wait returns
/// false), failing the test if that takes longer than `limit`.
template <class F>
std::size_t drain_until_closed(trackstats::Registry& reg, trackstats::Batch& batch, F&& each,
                               std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::size_t n = 0;
    while (reg.wait(batch, std::chrono::milliseconds(5))) {
        for (const auto& r : batch) {
            each(r);
            n++;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ADD_FAILURE() << "the registry did not finish draining in time";
            break;
        }
    }
    return n;
}

/// Every report pending now, copied out of the batch.
inline std::vector<trackstats::OwnedReport> drain_owned(trackstats::Registry& reg) {
    trackstats::Batch batch(64);
    std::vector<trackstats::OwnedReport> out;
    drain_now(reg, batch, [&](const trackstats::Report& r) { out.push_back(r.to_owned()); });
    return out;
}

}  // namespace tstest

#endif  // TRACKSTATS_TEST_UTIL_HPP
