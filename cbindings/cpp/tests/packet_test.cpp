// Data-track packets through the C++ wrapper: Track::record_up_packet
// and the five sequence counts in reports and totals. Hand-computed windows
// (loss, reorder, duplicate, wrap at 65535 -> 0, a reorder across a window
// boundary), then long random sequences against a reference model written
// from the rule in docs/seq.md, window by window, on the wrapper's inline path
// and on the library's own trackstats_record_up_packet side by side. The
// ccall binary runs this file with the inline path compiled out.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "trackstats.hpp"

namespace {

/// The five counts of one window, a span, or a track's life.
struct Seq {
    std::uint64_t lost = 0, recovered = 0, out_of_order = 0, duplicated = 0, frames = 0;
    bool operator==(const Seq& o) const {
        return lost == o.lost && recovered == o.recovered && out_of_order == o.out_of_order &&
               duplicated == o.duplicated && frames == o.frames;
    }
    Seq operator-(const Seq& o) const {
        return {lost - o.lost, recovered - o.recovered, out_of_order - o.out_of_order, duplicated - o.duplicated,
                frames - o.frames};
    }
    Seq& operator+=(const Seq& o) {
        lost += o.lost;
        recovered += o.recovered;
        out_of_order += o.out_of_order;
        duplicated += o.duplicated;
        frames += o.frames;
        return *this;
    }
};

std::ostream& operator<<(std::ostream& os, const Seq& s) {
    return os << "{lost " << s.lost << ", recovered " << s.recovered << ", out_of_order " << s.out_of_order
              << ", duplicated " << s.duplicated << ", frames " << s.frames << "}";
}

Seq of(const trackstats::OwnedReport& r) {
    return {r.packets_lost, r.packets_recovered, r.packets_out_of_order, r.packets_duplicated, r.frames};
}

Seq of(const trackstats::Totals& t) {
    return {t.up_packets_lost, t.up_packets_recovered, t.up_packets_out_of_order, t.up_packets_duplicated,
            t.up_frames};
}

/// The reference rule as the issue states it, kept apart from the library's
/// encoding: a signed cumulative lost count that a late packet reduces by one
/// while it is positive. `recovered` counts those reductions, so the net loss
/// is lost - recovered.
class Model {
  public:
    void packet(std::uint16_t s, bool end_of_frame) {
        if (!started_) {
            started_ = true;
            highest_ = s;
        } else {
            const int d = (static_cast<int>(s) - static_cast<int>(highest_) + 65536) % 65536;
            if (d == 0) {
                c_.duplicated++;
                return;
            }
            if (d > 32768) {
                c_.out_of_order++;
                if (net_lost_ > 0) {
                    net_lost_--;
                    c_.recovered++;
                }
            } else {
                c_.lost += static_cast<std::uint64_t>(d - 1);
                net_lost_ += d - 1;
                highest_ = s;
            }
        }
        if (end_of_frame) {
            c_.frames++;
        }
    }
    const Seq& cumulative() const { return c_; }
    std::int64_t net_lost() const { return net_lost_; }

  private:
    bool started_ = false;
    std::uint16_t highest_ = 0;
    std::int64_t net_lost_ = 0;
    Seq c_;
};

/// The one up report of `user_data` in `rs`; fails the test unless there is
/// exactly one.
trackstats::OwnedReport up_report(const std::vector<trackstats::OwnedReport>& rs, std::uint64_t user_data = 0) {
    std::vector<trackstats::OwnedReport> ups;
    for (const auto& r : rs) {
        if (r.user_data == user_data && r.direction == trackstats::Direction::Up) {
            ups.push_back(r);
        }
    }
    EXPECT_EQ(ups.size(), 1u) << "up reports of track " << user_data;
    return ups.empty() ? trackstats::OwnedReport{} : ups[0];
}

struct Pkt {
    std::uint16_t seq;
    bool eof;
};

}  // namespace

TEST(Packets, OneWindowWithLossReorderAndADuplicate) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_data", "TR_data", "SE", 0);
    // Hand-computed, against the highest number seen h:
    //   10 eof  starts the stream (h = 10)                     frame 1
    //   11      next                                           -
    //   14 eof  12, 13 lost (lost 2), h = 14                   frame 2
    //   12      behind: out of order 1, net loss 2 > 0: recovered 1
    //   14 eof  duplicate of h: duplicated 1, not a frame
    //   13 eof  behind: out of order 2, net loss 1 > 0: recovered 2, frame 3
    //    9      behind: out of order 3, net loss 0: nothing recovered
    //   15 eof  next, h = 15                                   frame 4
    //   18      16, 17 lost (lost 4), h = 18
    const std::vector<Pkt> seqs = {{10, true}, {11, false}, {14, true}, {12, false}, {14, true},
                                   {13, true}, {9, false},  {15, true}, {18, false}};
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < seqs.size(); i++) {
        t.record_up_packet(100 + i, seqs[i].seq, seqs[i].eof);
        bytes += 100 + i;
    }
    const Seq want{4, 2, 3, 1, 4};

    const trackstats::Totals tot = t.totals();
    EXPECT_EQ(of(tot), want);
    EXPECT_EQ(tot.up_bytes, bytes);
    EXPECT_EQ(tot.up_messages, seqs.size()) << "a duplicate still counts its bytes and one message";
    EXPECT_EQ(tot.down_messages, 0u);

    reg.tick();
    const auto rs = tstest::drain_owned(reg);
    ASSERT_EQ(rs.size(), 1u) << "no down report: nothing was sent down";
    EXPECT_EQ(of(rs[0]), want);
    EXPECT_EQ(rs[0].bytes, bytes);
    EXPECT_EQ(rs[0].messages, seqs.size());
    EXPECT_EQ(rs[0].country, "SE");
    EXPECT_EQ(rs[0].flags, 0u);

    // The next window starts from zero; totals keep the sum.
    t.record_up_packet(50, 19, true);
    reg.tick();
    const auto next = tstest::drain_owned(reg);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(of(next[0]), (Seq{0, 0, 0, 0, 1}));
    EXPECT_EQ(of(t.totals()), (Seq{4, 2, 3, 1, 5}));
}

TEST(Packets, SequenceNumbersWrapFrom65535ToZero) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_wrap", "TR_wrap");
    // In order across the wrap: no loss.
    for (std::uint16_t s : std::vector<std::uint16_t>{65533, 65534, 65535, 0, 1}) {
        t.record_up_packet(10, s, true);
    }
    EXPECT_EQ(of(t.totals()), (Seq{0, 0, 0, 0, 5}));
    reg.tick();
    EXPECT_EQ(of(up_report(tstest::drain_owned(reg))), (Seq{0, 0, 0, 0, 5}));

    // 1 -> 65535 is 2 behind, not 65534 ahead: out of order, nothing to
    // recover. 65535 -> 3 across the wrap: h is still 1, so 2 is lost.
    t.record_up_packet(10, 65535, false);
    t.record_up_packet(10, 3, false);
    // 2 arrives late: behind 3, recovers the one lost.
    t.record_up_packet(10, 2, false);
    reg.tick();
    EXPECT_EQ(of(up_report(tstest::drain_owned(reg))), (Seq{1, 1, 2, 0, 0}));

    trackstats::Track g = reg.open("PA_gap", "TR_gap", "", 1);
    g.record_up_packet(10, 65530, false);
    g.record_up_packet(10, 4, false);       // 65531..65535, 0..3: 9 lost
    g.record_up_packet(10, 65535, false);   // behind 4: out of order, recovers 1
    g.record_up_packet(10, 4, false);       // duplicate across the wrap
    g.record_up_packet(10, 32772, false);   // 32768 ahead of 4: the largest advance, 32767 lost
    g.record_up_packet(10, 5, false);       // 32767 behind: out of order, recovers 1
    g.record_up_packet(10, 4, false);       // 32768 either way: counts as ahead, 32767 lost
    EXPECT_EQ(of(g.totals()), (Seq{9 + 2 * 32767, 2, 2, 1, 0}));
    reg.tick();
    EXPECT_EQ(of(up_report(tstest::drain_owned(reg), 1)), (Seq{9 + 2 * 32767, 2, 2, 1, 0}));
}

TEST(Packets, AReorderAcrossAWindowBoundaryCountsAsRecoveredInTheLaterWindow) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_late", "TR_late");
    // Window 1: 1, 2, 5: 3 and 4 are lost.
    t.record_up_packet(100, 1, true);
    t.record_up_packet(100, 2, true);
    t.record_up_packet(100, 5, true);
    reg.tick();
    const trackstats::OwnedReport w1 = up_report(tstest::drain_owned(reg));
    EXPECT_EQ(of(w1), (Seq{2, 0, 0, 0, 3}));

    // Window 2: 4 arrives late. The earlier window keeps its lost 2; this one
    // counts the late packet as out of order and recovered, and no loss.
    t.record_up_packet(100, 4, true);
    t.record_up_packet(100, 6, true);
    reg.tick();
    const trackstats::OwnedReport w2 = up_report(tstest::drain_owned(reg));
    EXPECT_EQ(of(w2), (Seq{0, 1, 1, 0, 2}));
    EXPECT_EQ(w2.bytes, 200u);
    EXPECT_GE(w2.start_unix_ns, w1.end_unix_ns) << "the late packet landed in a later window";

    // Window 3: 3 arrives even later, then closes the track: the final
    // report carries it.
    t.record_up_packet(100, 3, false);
    t.close();
    reg.flush();
    const trackstats::OwnedReport w3 = up_report(tstest::drain_owned(reg));
    EXPECT_TRUE(w3.is_final());
    EXPECT_EQ(of(w3), (Seq{0, 1, 1, 0, 0}));

    // Summed over the windows, net loss is the reference rule's: zero.
    Seq sum;
    sum += of(w1);
    sum += of(w2);
    sum += of(w3);
    EXPECT_EQ(sum, of(t.totals()));
    EXPECT_EQ(sum.lost - sum.recovered, 0u);

    // After close a packet is still counted, flagged late.
    t.record_up_packet(100, 8, false);  // 7 lost
    reg.tick();
    const trackstats::OwnedReport late = up_report(tstest::drain_owned(reg));
    EXPECT_TRUE(late.is_late());
    EXPECT_EQ(of(late), (Seq{1, 0, 0, 0, 0}));
}

TEST(Packets, RandomSequencesMatchTheModelWindowByWindow) {
    // Two tracks get the same packets: `a` through the wrapper (inline where
    // this build has the path), `b` through the C function. Both must match
    // the model in every window.
    trackstats::Registry reg = tstest::manual();
    trackstats::Track a = reg.open("PA_m", "TR_inline", "", 1);
    trackstats::Track b = reg.open("PA_m", "TR_c", "", 2);
    Model model;
    Seq reported_a, reported_b, model_mark;
    std::mt19937_64 rng(20240607);
    std::uint16_t next = static_cast<std::uint16_t>(rng());
    std::vector<std::uint16_t> recent;  // for late packets and duplicates
    std::uint64_t bytes = 0, packets = 0, windows = 0;

    for (int window = 0; window < 300; window++) {
        const int n = static_cast<int>(rng() % 400);  // some windows are empty
        for (int i = 0; i < n; i++) {
            const std::uint64_t r = rng() % 1000;
            std::uint16_t s;
            if (r < 40 && !recent.empty()) {  // late: one of the recent numbers
                s = recent[rng() % recent.size()];
            } else if (r < 50 && !recent.empty()) {  // an exact repeat of the last one
                s = recent.back();
            } else if (r < 55) {  // a long gap, up to the largest advance
                next = static_cast<std::uint16_t>(std::uint64_t{next} + rng() % 32768);
                s = next++;
            } else if (r < 60) {  // far behind (a packet from the distant past)
                s = static_cast<std::uint16_t>(std::uint64_t{next} + 65535 - rng() % 32767);
            } else {  // in order, with a little loss
                next = static_cast<std::uint16_t>(std::uint64_t{next} + (rng() % 20 == 0 ? 1 + rng() % 5 : 0));
                s = next++;
            }
            const bool eof = rng() % 4 == 0;
            const std::uint64_t size = 1 + rng() % 1500;
            a.record_up_packet(size, s, eof);
            trackstats_record_up_packet(b.get(), size, s, eof);
            model.packet(s, eof);
            bytes += size;
            packets++;
            recent.push_back(s);
            if (recent.size() > 64) {
                recent.erase(recent.begin());
            }
        }
        reg.tick();
        const Seq want = model.cumulative() - model_mark;
        model_mark = model.cumulative();
        Seq got_a, got_b;
        int ups_a = 0, ups_b = 0;
        for (const auto& r : tstest::drain_owned(reg)) {
            ASSERT_EQ(r.direction, trackstats::Direction::Up);
            (r.user_data == 1 ? got_a : got_b) += of(r);
            (r.user_data == 1 ? ups_a : ups_b)++;
        }
        ASSERT_EQ(got_a, want) << "inline path, window " << window;
        ASSERT_EQ(got_b, want) << "C function, window " << window;
        ASSERT_LE(ups_a, 1);
        ASSERT_EQ(ups_a, n > 0 ? 1 : 0) << "a window with packets is reported, an empty one is not";
        ASSERT_EQ(ups_b, ups_a);
        reported_a += got_a;
        reported_b += got_b;
        windows++;
    }
    // The sums over all windows are the model's cumulative counts, and the
    // net loss is the model's signed count.
    EXPECT_EQ(reported_a, model.cumulative());
    EXPECT_EQ(of(a.totals()), model.cumulative());
    EXPECT_EQ(of(b.totals()), model.cumulative());
    EXPECT_EQ(static_cast<std::int64_t>(reported_a.lost - reported_a.recovered), model.net_lost());
    EXPECT_EQ(a.totals().up_bytes, bytes);
    EXPECT_EQ(a.totals().up_messages, packets);
    // The generator did exercise every branch.
    EXPECT_GT(model.cumulative().lost, 1000u);
    EXPECT_GT(model.cumulative().recovered, 100u);
    EXPECT_GT(model.cumulative().out_of_order, model.cumulative().recovered);
    EXPECT_GT(model.cumulative().duplicated, 100u);
    EXPECT_EQ(windows, 300u);
}

TEST(Packets, WideRejectedAndNullPackets) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_wide", "TR_wide");
    trackstats::Track relay;
    relay.record_up_packet(100, 1, true);  // NULL: a no-op
    t.record_up_packet(TRACKSTATS_MAX_INLINE_BYTES + 1, 1, true);  // through the library
    t.record_up_packet(TRACKSTATS_MAX_RECORD_BYTES + 1, 5, true);  // rejected whole: no gap counted
    t.record_up_packet(10, 3, true);                               // 2 lost
    const trackstats::Totals tot = t.totals();
    EXPECT_EQ(tot.up_bytes, TRACKSTATS_MAX_INLINE_BYTES + 11);
    EXPECT_EQ(tot.up_messages, 2u);
    EXPECT_EQ(of(tot), (Seq{1, 0, 0, 0, 2}));
    EXPECT_EQ(reg.stats().records_rejected, 1u);
}

TEST(Packets, SpillKeepsEveryByteOfLargePackets) {
    // As for record_up: the byte field fills after 65536 packets of the
    // largest inline size, so the packet path must spill too.
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_big", "TR_big");
    const std::uint64_t n = 70000;
    for (std::uint64_t i = 0; i < n; i++) {
        t.record_up_packet(TRACKSTATS_MAX_INLINE_BYTES, static_cast<std::uint16_t>(i), true);
    }
    reg.tick();
    const trackstats::OwnedReport r = up_report(tstest::drain_owned(reg));
    EXPECT_EQ(r.bytes, n * TRACKSTATS_MAX_INLINE_BYTES);
    EXPECT_EQ(r.messages, n);
    EXPECT_EQ(of(r), (Seq{0, 0, 0, 0, n}));
}

TEST(Packets, MovedTrackKeepsItsStream) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track a = reg.open("PA_mv", "TR_mv");
    a.record_up_packet(10, 100, false);  // caches the packet words in `a`
    trackstats::Track b(std::move(a));
    a.record_up_packet(10, 500, false);  // NOLINT(bugprone-use-after-move): NULL now, a no-op
    b.record_up_packet(10, 103, false);  // continues from 100: 2 lost
    trackstats::Track c;
    c = std::move(b);
    c.record_up_packet(10, 102, false);  // behind 103: recovers one
    EXPECT_EQ(of(c.totals()), (Seq{2, 1, 1, 0, 0}));
    EXPECT_EQ(c.totals().up_messages, 3u);
}

TEST(Packets, SeveralWritersOnOneTrackStayExactInBytesAndWithinBounds) {
    // Not the supported mode for exact sequence counts, but it must stay
    // memory-safe (the sanitizer build runs this) with exact bytes and
    // messages and the documented bounds: nothing invented.
    trackstats::Config cfg;
    cfg.interval = std::chrono::milliseconds(1);
    trackstats::Registry reg(cfg);
    trackstats::Track t = reg.open("PA_mw", "TR_mw");
    constexpr int kWriters = 3;
    constexpr std::uint64_t kPackets = 20000;
    std::vector<std::thread> ws;
    for (int w = 0; w < kWriters; w++) {
        ws.emplace_back([&t, w] {
            for (std::uint64_t i = 0; i < kPackets; i++) {
                t.record_up_packet(7, static_cast<std::uint16_t>(i * 3 + static_cast<std::uint64_t>(w)), i % 2 == 0);
            }
        });
    }
    for (auto& th : ws) {
        th.join();
    }
    t.close();
    Seq sum;
    std::uint64_t bytes = 0, messages = 0;
    trackstats::Batch batch(256);
    reg.close();
    tstest::drain_until_closed(reg, batch, [&](const trackstats::Report& r) {
        sum += of(r.to_owned());
        bytes += r.bytes;
        messages += r.messages;
    });
    const std::uint64_t total = kWriters * kPackets;
    EXPECT_EQ(bytes, 7 * total);
    EXPECT_EQ(messages, total);
    EXPECT_EQ(sum, of(t.totals())) << "windows add up to the totals";
    EXPECT_LE(sum.out_of_order + sum.duplicated, total);
    EXPECT_LE(sum.recovered + sum.duplicated, total);
    EXPECT_LE(sum.frames, total / 2);
    EXPECT_LE(sum.lost, 32767 * total);
}
