// Manual mode end to end: tick, flush, totals, final and late flags, the
// report's fields and strings, batch capacity, errors, and the window-word
// rule's slow paths (spill, wide and rejected records).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "trackstats.hpp"

TEST(ManualMode, SelectsTheExpectedRecordPath) {
    EXPECT_EQ(static_cast<int>(trackstats::record_path), TRACKSTATS_TEST_EXPECT_PATH);
    EXPECT_FALSE(trackstats::version().empty());
}

TEST(ManualMode, TickReportsWindowsWithKeyAndTotals) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_alice", "TR_video", "DE", 42);
    for (int i = 0; i < 3; i++) {
        t.record_up(100);
    }
    t.record_down(50);

    // The inline path writes the slot's window word as the rule says.
    const std::uint64_t* w = trackstats_track_window_words(t.get());
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w[0], 3 * TRACKSTATS_WORD_MESSAGE_ONE + 300);
    EXPECT_EQ(w[1], TRACKSTATS_WORD_MESSAGE_ONE + 50);

    trackstats::Totals tot = t.totals();
    EXPECT_EQ(tot.up_bytes, 300u);
    EXPECT_EQ(tot.up_messages, 3u);
    EXPECT_EQ(tot.down_bytes, 50u);
    EXPECT_EQ(tot.down_messages, 1u);

    reg.tick();
    std::vector<trackstats::OwnedReport> rs = tstest::drain_owned(reg);
    ASSERT_EQ(rs.size(), 2u);
    for (const auto& r : rs) {
        EXPECT_EQ(r.participant_id, "PA_alice");
        EXPECT_EQ(r.track_id, "TR_video");
        EXPECT_EQ(r.country, "DE");
        EXPECT_EQ(r.user_data, 42u);
        EXPECT_EQ(r.flags, 0u);
        EXPECT_LE(r.start_unix_ns, r.end_unix_ns);
        if (r.direction == trackstats::Direction::Up) {
            EXPECT_EQ(r.bytes, 300u);
            EXPECT_EQ(r.messages, 3u);
        } else {
            EXPECT_EQ(r.bytes, 50u);
            EXPECT_EQ(r.messages, 1u);
        }
    }
    EXPECT_EQ(trackstats::stream_type(trackstats::Direction::Up), "UPSTREAM");

    // Totals stay cumulative across the window the tick closed.
    t.record_up(1);
    tot = t.totals();
    EXPECT_EQ(tot.up_bytes, 301u);
    EXPECT_EQ(tot.up_messages, 4u);
}

TEST(ManualMode, CloseGivesAFinalReportAndLaterBytesAreLate) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_bob", "TR_audio");
    t.record_up(20);
    t.close();
    t.close();  // idempotent
    reg.flush();
    std::vector<trackstats::OwnedReport> rs = tstest::drain_owned(reg);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_TRUE(rs[0].is_final());
    EXPECT_FALSE(rs[0].is_late());
    EXPECT_EQ(rs[0].bytes, 20u);
    EXPECT_TRUE(rs[0].country.empty());
    EXPECT_EQ(reg.stats().open_tracks, 0u);
    EXPECT_EQ(reg.stats().live_slots, 1u) << "closed, not yet released";

    t.record_down(5);  // after close: reported, flagged late
    reg.tick();
    rs = tstest::drain_owned(reg);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_TRUE(rs[0].is_late());
    EXPECT_EQ(rs[0].direction, trackstats::Direction::Down);
    EXPECT_EQ(rs[0].bytes, 5u);

    t.record_down(6);
    t.reset();  // release: the late bytes still come out
    reg.flush();
    rs = tstest::drain_owned(reg);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_TRUE(rs[0].is_late());
    EXPECT_EQ(rs[0].bytes, 6u);
    EXPECT_EQ(reg.stats().live_slots, 0u);
}

TEST(ManualMode, DrainHonoursTheBatchCapacity) {
    trackstats::Registry reg = tstest::manual();
    std::vector<trackstats::Track> tracks;
    for (std::uint64_t i = 0; i < 3; i++) {
        tracks.push_back(reg.open("PA_p", "TR_" + std::to_string(i), "", i));
        tracks.back().record_up(10 + i);
    }
    reg.tick();
    trackstats::Batch batch(2);
    EXPECT_EQ(reg.drain(batch), 2u);
    EXPECT_EQ(reg.drain(batch), 1u);
    EXPECT_EQ(reg.drain(batch), 0u);
    EXPECT_TRUE(batch.empty());
    // wait() with nothing pending times out with an empty batch.
    EXPECT_TRUE(reg.wait(batch, std::chrono::milliseconds(1)));
    EXPECT_TRUE(batch.empty());
}

TEST(ManualMode, SpillKeepsEveryByteWhenTheByteFieldFillsUp) {
    // 70000 records of the largest inline size overflow the 40-bit byte field
    // (at 65536 records) unless the writer spills when the field is half full.
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_big", "TR_big");
    const std::uint64_t n = 70000;
    for (std::uint64_t i = 0; i < n; i++) {
        t.record_up(TRACKSTATS_MAX_INLINE_BYTES);
    }
    const trackstats::Totals tot = t.totals();
    EXPECT_EQ(tot.up_bytes, n * TRACKSTATS_MAX_INLINE_BYTES);
    EXPECT_EQ(tot.up_messages, n);
    reg.tick();
    std::vector<trackstats::OwnedReport> rs = tstest::drain_owned(reg);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(rs[0].bytes, n * TRACKSTATS_MAX_INLINE_BYTES);
    EXPECT_EQ(rs[0].messages, n);
}

TEST(ManualMode, WideRecordsGoThroughTheLibraryAndAbsurdOnesAreRejected) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_w", "TR_w");
    t.record_up(TRACKSTATS_MAX_INLINE_BYTES + 1);
    t.record_down(std::uint64_t{1} << 32);
    t.record_up(TRACKSTATS_MAX_RECORD_BYTES + 1);  // a bug's size: rejected
    t.record_up(1);
    const trackstats::Totals tot = t.totals();
    EXPECT_EQ(tot.up_bytes, TRACKSTATS_MAX_INLINE_BYTES + 2);
    EXPECT_EQ(tot.up_messages, 2u);
    EXPECT_EQ(tot.down_bytes, std::uint64_t{1} << 32);
    EXPECT_EQ(tot.down_messages, 1u);
    EXPECT_EQ(reg.stats().records_rejected, 1u);
}

TEST(ManualMode, ErrorsCarryTheResultCode) {
    auto code_of = [](auto&& f) -> std::uint32_t {
        try {
            f();
        } catch (const trackstats::Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string(trackstats::result_str(e.code()))), std::string::npos);
            return static_cast<std::uint32_t>(e.code());
        }
        return 0;
    };
    trackstats::Config bad;
    bad.interval = std::chrono::milliseconds(0);
    EXPECT_EQ(code_of([&] { trackstats::Registry r(bad); }), TRACKSTATS_RESULT_INVALID_INTERVAL);
    bad.interval = std::chrono::hours(2);
    EXPECT_EQ(code_of([&] { trackstats::Registry r(bad); }), TRACKSTATS_RESULT_INVALID_INTERVAL);
    EXPECT_EQ(code_of([&] { trackstats::Batch b(0); }), TRACKSTATS_RESULT_INVALID_CAPACITY);

    trackstats::Registry threaded;  // defaults: a sampler thread
    EXPECT_EQ(code_of([&] { threaded.tick(); }), TRACKSTATS_RESULT_WRONG_MODE);

    trackstats::Registry reg = tstest::manual();
    EXPECT_EQ(code_of([&] { (void)reg.open("", "TR"); }), TRACKSTATS_RESULT_EMPTY_ID);
    EXPECT_EQ(code_of([&] { (void)reg.open("PA", std::string(TRACKSTATS_MAX_ID_BYTES + 1, 'x')); }),
              TRACKSTATS_RESULT_ID_TOO_LONG);
    EXPECT_EQ(code_of([&] { (void)reg.open("PA\xff", "TR"); }), TRACKSTATS_RESULT_INVALID_UTF8);

    trackstats::Track keep = reg.open("PA_keep", "TR_keep");
    trackstats_track* before = keep.get();
    EXPECT_EQ(reg.try_open("", "TR", "", 0, keep), TRACKSTATS_RESULT_EMPTY_ID);
    EXPECT_EQ(keep.get(), before) << "a failed try_open changed its out-parameter";

    reg.close();
    reg.close();  // idempotent
    EXPECT_EQ(code_of([&] { (void)reg.open("PA", "TR"); }), TRACKSTATS_RESULT_REGISTRY_CLOSED);
    EXPECT_EQ(code_of([&] { reg.tick(); }), TRACKSTATS_RESULT_REGISTRY_CLOSED);
    trackstats::Batch batch(4);
    EXPECT_FALSE(reg.wait(batch, std::chrono::milliseconds(1))) << "closed and drained";
}

#if TRACKSTATS_CPP_HAS_PACKETS
TEST(ManualMode, PacketSequenceCountsReachReportsAndTotals) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_data", "TR_data");
    trackstats::Track relay;
    relay.record_up_packet(100, 1, true);  // NULL: a no-op
    t.record_up_packet(100, 1, false);  // starts the stream
    t.record_up_packet(100, 2, true);
    t.record_up_packet(100, 4, true);  // 3 is lost
    t.record_up_packet(100, 3, false);  // out of order, recovers it
    t.record_up_packet(100, 4, true);  // duplicate: no frame
    const trackstats::Totals tot = t.totals();
    EXPECT_EQ(tot.up_bytes, 500u);
    EXPECT_EQ(tot.up_packets_lost, 1u);
    EXPECT_EQ(tot.up_frames, 2u);
    reg.tick();
    std::vector<trackstats::OwnedReport> rs = tstest::drain_owned(reg);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(rs[0].bytes, 500u);
    EXPECT_EQ(rs[0].messages, 5u);
    EXPECT_EQ(rs[0].packets_lost, 1u);
    EXPECT_EQ(rs[0].packets_recovered, 1u);
    EXPECT_EQ(rs[0].packets_out_of_order, 1u);
    EXPECT_EQ(rs[0].packets_duplicated, 1u);
    EXPECT_EQ(rs[0].frames, 2u);
}
#endif
