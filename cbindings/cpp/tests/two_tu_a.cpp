// The first translation unit of the two-TU test (see two_tu.hpp).
#include <gtest/gtest.h>

#include "trackstats.hpp"
#include "two_tu.hpp"

TEST(TwoTranslationUnits, HandlesCrossBetweenThem) {
    trackstats::Config cfg;
    cfg.mode = trackstats::Mode::Manual;
    trackstats::Registry reg(cfg);
    trackstats::Track from_b = open_in_tu_b(reg);  // opened in TU b, owned here
    const std::uint64_t a_bytes = record_burst(from_b, 50, 10);
    const std::uint64_t b_bytes = record_in_tu_b(from_b);
    const trackstats::Totals tot = from_b.totals();
    EXPECT_EQ(tot.up_bytes, a_bytes + b_bytes);
    EXPECT_EQ(tot.down_messages, 150u);
    EXPECT_EQ(stats_in_tu_b(reg).open_tracks, 1u);
    from_b.reset();
    reg.flush();
    EXPECT_EQ(stats_in_tu_b(reg).live_slots, 0u);
}
