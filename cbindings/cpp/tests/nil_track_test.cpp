// The relay case: a NULL track (default-constructed, adopted NULL, detached
// or reset) accepts every call as a no-op and never reaches a registry.
#include <gtest/gtest.h>

#include <cstdint>

#include "test_util.hpp"
#include "trackstats.hpp"

namespace {

void use_every_call(const trackstats::Track& t) {
    t.record_up(1200);
    t.record_down(1200);
    t.record_up(TRACKSTATS_MAX_INLINE_BYTES + 1);  // would take the C path
    t.record_down(TRACKSTATS_MAX_RECORD_BYTES + 1);  // would be rejected
    t.record(trackstats::Direction::Up, 7);
    t.record(static_cast<trackstats::Direction>(9), 7);  // not a direction
    t.close();
    t.close();
    const trackstats::Totals tot = t.totals();
    EXPECT_EQ(tot.up_bytes, 0u);
    EXPECT_EQ(tot.up_messages, 0u);
    EXPECT_EQ(tot.down_bytes, 0u);
    EXPECT_EQ(tot.down_messages, 0u);
}

}  // namespace

TEST(NilTrack, EveryCallIsANoOp) {
    trackstats::Registry reg = tstest::manual();

    trackstats::Track def;
    EXPECT_FALSE(def);
    EXPECT_EQ(def.get(), nullptr);
    use_every_call(def);

    trackstats::Track adopted(nullptr);
    EXPECT_FALSE(adopted);
    use_every_call(adopted);

    // A real track made NULL by reset() and by detach().
    trackstats::Track reset_one = reg.open("PA_a", "TR_a");
    reset_one.reset();
    EXPECT_FALSE(reset_one);
    use_every_call(reset_one);
    reset_one.reset();  // a second reset releases nothing

    trackstats::Track detached = reg.open("PA_b", "TR_b");
    trackstats_track* raw = detached.detach();
    ASSERT_NE(raw, nullptr);
    use_every_call(detached);
    trackstats_track_release(raw);

    reg.tick();
    const trackstats::Stats s = reg.stats();
    EXPECT_EQ(s.reports_emitted, 0u) << "a NULL track reported something";
    EXPECT_EQ(s.records_rejected, 0u) << "a NULL track's record reached the registry";
    EXPECT_EQ(s.live_slots, 0u);
    EXPECT_EQ(s.open_tracks, 0u);
}

TEST(NilTrack, LiveTrackNextToANilOneCountsOnlyItsOwn) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track live = reg.open("PA_sub", "TR_cam", "", 5);
    trackstats::Track relay;  // the relay copy of the same track on this node
    for (int i = 0; i < 1000; i++) {
        live.record_down(100);
        relay.record_down(100);
    }
    const trackstats::Totals tot = live.totals();
    EXPECT_EQ(tot.down_bytes, 100000u);
    EXPECT_EQ(tot.down_messages, 1000u);
}
