// Move semantics: a moved-from handle is NULL and safe, ownership moves
// exactly once, and no handle is released twice (checked with live_slots,
// which a double release would drive below the number of open handles, and
// under ASan, which would see the use after free).
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <utility>

#include "test_util.hpp"
#include "trackstats.hpp"

static_assert(!std::is_copy_constructible_v<trackstats::Track>);
static_assert(!std::is_copy_assignable_v<trackstats::Track>);
static_assert(std::is_nothrow_move_constructible_v<trackstats::Track>);
static_assert(std::is_nothrow_move_assignable_v<trackstats::Track>);
static_assert(!std::is_copy_constructible_v<trackstats::Registry>);
static_assert(std::is_nothrow_move_constructible_v<trackstats::Registry>);
static_assert(!std::is_copy_constructible_v<trackstats::Batch>);
static_assert(std::is_nothrow_move_constructible_v<trackstats::Batch>);

namespace {

std::uint64_t live_slots(trackstats::Registry& reg) {
    reg.flush();  // releases are processed by the sampler role
    return reg.stats().live_slots;
}

}  // namespace

TEST(Move, TrackOwnershipMovesOnceAndReleasesOnce) {
    trackstats::Registry reg = tstest::manual();
    tstest::SumMap got;
    trackstats::Batch batch(16);
    {
        trackstats::Track a = reg.open("PA_a", "TR_a", "", 1);
        trackstats::Track b = reg.open("PA_b", "TR_b", "", 2);
        EXPECT_EQ(live_slots(reg), 2u);

        b.record_up(7);
        trackstats::Track c(std::move(a));
        EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the point of the test
        EXPECT_TRUE(c);
        a.record_up(1000);  // moved-from: a no-op
        a.close();
        c.record_up(10);
        EXPECT_EQ(live_slots(reg), 2u) << "a move opened or released a slot";

        // Move-assign over a live handle: b's old track (TR_b) is released.
        b = std::move(c);
        EXPECT_FALSE(c);
        EXPECT_EQ(b.totals().up_bytes, 10u) << "b now holds TR_a";
        EXPECT_EQ(live_slots(reg), 1u);

        // Self-move through a reference keeps the handle.
        trackstats::Track& same = b;
        b = std::move(same);
        EXPECT_TRUE(b);
        EXPECT_EQ(live_slots(reg), 1u);

        reg.tick();
        tstest::drain_now(reg, batch, [&](const trackstats::Report& r) { tstest::add(got, r); });
        b.reset();
        EXPECT_FALSE(b);
        EXPECT_EQ(live_slots(reg), 0u);
        b.reset();
        // a, b and c all go out of scope here, all NULL.
    }
    EXPECT_EQ(live_slots(reg), 0u) << "a moved-from handle released something";
    const trackstats::Stats s = reg.stats();
    EXPECT_EQ(s.open_tracks, 0u);
    // TR_b's 7 bytes came with its release, TR_a's 10 with the tick.
    EXPECT_EQ(got[2].bytes[0], 7u);
    EXPECT_EQ(got[1].bytes[0], 10u);
    EXPECT_EQ(got.size(), 2u);
}

TEST(Move, MovedFromRegistryIsNullAndThrows) {
    trackstats::Registry a = tstest::manual();
    trackstats::Track t = a.open("PA_a", "TR_a");
    trackstats::Registry b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(b);
    try {
        (void)a.open("PA_x", "TR_x");
        FAIL() << "open on a moved-from registry did not throw";
    } catch (const trackstats::Error& e) {
        EXPECT_EQ(e.code(), TRACKSTATS_RESULT_NULL_ARGUMENT);
    }
    EXPECT_THROW(a.stats(), trackstats::Error);
    EXPECT_THROW(a.tick(), trackstats::Error);
    trackstats::Track out;
    EXPECT_EQ(a.try_open("PA_x", "TR_x", "", 0, out), TRACKSTATS_RESULT_NULL_ARGUMENT);
    EXPECT_FALSE(out);

    // The track opened through `a` now belongs to `b`'s registry.
    t.record_down(3);
    EXPECT_EQ(b.stats().open_tracks, 1u);

    // Move-assign over a live registry closes and frees the old one first.
    trackstats::Registry c = tstest::manual();
    trackstats::Track u = c.open("PA_c", "TR_c");
    c = std::move(b);
    EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(c.stats().open_tracks, 1u) << "c now holds a's registry";
    u.record_up(1);  // its registry is gone; the handle stays valid
    u.reset();
}

TEST(Move, BatchReportsSurviveAMove) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_move", "TR_move", "FR", 9);
    t.record_up(42);
    reg.tick();
    trackstats::Batch a(4);
    ASSERT_EQ(reg.drain(a), 1u);
    const std::string_view pid = a.reports()[0].participant_id;
    trackstats::Batch b(std::move(a));
    EXPECT_EQ(a.get(), nullptr);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(a.empty());
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b.reports()[0].participant_id, "PA_move");
    EXPECT_EQ(pid, "PA_move") << "a view taken before the move still reads its string";
    EXPECT_EQ(b.reports()[0].country, "FR");
    EXPECT_THROW(reg.drain(a), trackstats::Error) << "a moved-from batch is NULL";
}
