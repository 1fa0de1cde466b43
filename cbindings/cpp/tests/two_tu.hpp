// The header included from two translation units of one binary: everything in
// trackstats.hpp is inline, so both TUs emit it and the link must still
// succeed (no duplicate symbols) and agree on the behaviour.
#ifndef TRACKSTATS_TWO_TU_HPP
#define TRACKSTATS_TWO_TU_HPP

#include <cstdint>

#include "trackstats.hpp"

/// Used from both TUs: `count` records of `size` bytes on each side.
inline std::uint64_t record_burst(const trackstats::Track& t, std::uint64_t count, std::uint64_t size) {
    for (std::uint64_t i = 0; i < count; i++) {
        t.record_up(size);
        t.record_down(size);
    }
    return count * size;
}

// Defined in two_tu_b.cpp.
trackstats::Track open_in_tu_b(trackstats::Registry& reg);
std::uint64_t record_in_tu_b(const trackstats::Track& t);
trackstats::Stats stats_in_tu_b(const trackstats::Registry& reg);

#endif  // TRACKSTATS_TWO_TU_HPP
