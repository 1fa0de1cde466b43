// Registry::prometheus: the exposition's cumulative counters add up
// to what was recorded, per-track series are opt-in and stop at the limit with
// an __overflow__ series that keeps the sum, and errors throw with the
// library's string freed (the sanitizer build checks for leaks).
#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "test_util.hpp"
#include "trackstats.hpp"

namespace {

/// One sample line of the exposition: `name{labels} value`.
struct Sample {
    std::string name;
    std::string labels;  // between the braces, empty without
    std::string value;
};

std::vector<Sample> samples(const std::string& text) {
    std::vector<Sample> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        Sample s;
        const std::size_t brace = line.find('{');
        const std::size_t space = line.rfind(' ');
        EXPECT_NE(space, std::string::npos) << line;
        if (space == std::string::npos) {
            continue;
        }
        if (brace != std::string::npos && brace < space) {
            s.name = line.substr(0, brace);
            const std::size_t close = line.rfind('}', space);
            s.labels = line.substr(brace + 1, close - brace - 1);
        } else {
            s.name = line.substr(0, space);
        }
        s.value = line.substr(space + 1);
        out.push_back(std::move(s));
    }
    return out;
}

bool has_label(const Sample& s, const std::string& label) {
    return (s.labels + ",").find(label + ",") != std::string::npos;
}

/// The sum of `name`'s samples that carry every label in `labels`
/// (`key="value"` each), and how many there were.
std::pair<std::uint64_t, std::size_t> sum(const std::string& text, const std::string& name,
                                          const std::vector<std::string>& labels = {}) {
    std::uint64_t total = 0;
    std::size_t n = 0;
    for (const Sample& s : samples(text)) {
        if (s.name != name) {
            continue;
        }
        bool all = true;
        for (const auto& l : labels) {
            all = all && has_label(s, l);
        }
        if (all) {
            total += std::stoull(s.value);
            n++;
        }
    }
    return {total, n};
}

}  // namespace

TEST(Prometheus, ByteCountersAddUpToWhatWasRecorded) {
    trackstats::Registry reg = tstest::manual();
    struct Tr {
        const char* pid;
        const char* country;
    };
    std::vector<trackstats::Track> tracks;
    for (Tr k : {Tr{"PA_a", "DE"}, Tr{"PA_b", "DE"}, Tr{"PA_c", "US"}, Tr{"PA_d", ""}}) {
        tracks.push_back(reg.open(k.pid, "TR_cam", k.country));
    }
    std::uint64_t up = 0, down = 0, up_msgs = 0, up_de = 0;
    for (std::uint64_t i = 0; i < 400; i++) {
        const trackstats::Track& t = tracks[i % tracks.size()];
        const std::uint64_t n = 100 + i;
        t.record_up(n);
        t.record_down(2 * n);
        up += n;
        down += 2 * n;
        up_msgs++;
        if (i % tracks.size() < 2) {
            up_de += n;
        }
        if (i == 150) {
            reg.tick();  // some bytes in reported windows, the rest in open ones
        }
    }
    // A released track still counts: its bytes stay in the country's sum.
    // The exposition holds the windows reported so far: tick once more.
    tracks[2].reset();
    reg.flush();
    EXPECT_LT(sum(reg.prometheus(), "trackstats_bytes_total", {"direction=\"incoming\""}).first, up)
        << "the open windows are not in yet";
    reg.tick();

    const std::string text = reg.prometheus();
    EXPECT_NE(text.find("# TYPE trackstats_bytes_total counter\n"), std::string::npos) << text;
    EXPECT_EQ(sum(text, "trackstats_bytes_total", {"direction=\"incoming\""}), std::make_pair(up, std::size_t{3}))
        << "one series per country (DE, US, empty):\n"
        << text;
    EXPECT_EQ(sum(text, "trackstats_bytes_total", {"direction=\"outgoing\""}).first, down);
    EXPECT_EQ(sum(text, "trackstats_messages_total", {"direction=\"incoming\""}).first, up_msgs);
    EXPECT_EQ(sum(text, "trackstats_bytes_total", {"direction=\"incoming\"", "country=\"DE\""}).first, up_de);
    EXPECT_EQ(sum(text, "trackstats_open_tracks").first, 3u);
    EXPECT_EQ(sum(text, "trackstats_tick_duration_seconds_count").first, 2u);
    EXPECT_EQ(text.find("trackstats_track_bytes_total"), std::string::npos) << "per-track series are opt-in";

    // Later records show up after the next pass: it is cumulative.
    tracks[0].record_up(5);
    reg.tick();
    EXPECT_EQ(sum(reg.prometheus(), "trackstats_bytes_total", {"direction=\"incoming\""}).first, up + 5);
}

TEST(Prometheus, PerTrackSeriesStopAtTheLimitWithAnOverflowSeries) {
    // Five tracks under the default limit (1000): one series each.
    trackstats::PrometheusOptions all;
    all.per_track = true;
    trackstats::Registry reg = tstest::manual();
    (void)reg.prometheus(all);  // turns per-track series on from the next pass
    std::vector<trackstats::Track> tracks;
    std::uint64_t up = 0;
    for (std::uint64_t i = 0; i < 5; i++) {
        tracks.push_back(reg.open("PA_" + std::to_string(i), "TR_" + std::to_string(i), "FR"));
        tracks.back().record_up(1000 * (i + 1));
        up += 1000 * (i + 1);
    }
    reg.tick();
    const std::string full = reg.prometheus(all);
    EXPECT_EQ(sum(full, "trackstats_track_bytes_total", {"direction=\"incoming\""}), std::make_pair(up, std::size_t{5}))
        << full;
    EXPECT_EQ(full.find("__overflow__"), std::string::npos) << "no overflow below the limit";
    for (std::uint64_t i = 0; i < 5; i++) {
        const std::string id = std::to_string(i);
        EXPECT_EQ(sum(full, "trackstats_track_bytes_total",
                      {"participant_id=\"PA_" + id + "\"", "track_id=\"TR_" + id + "\"", "country=\"FR\""})
                      .first,
                  1000 * (i + 1));
    }

    // The same five under a limit of 3: three series, the rest in the
    // overflow series of the direction that moved.
    trackstats::PrometheusOptions capped;
    capped.per_track = true;
    capped.max_track_series = 3;
    capped.node_id = "node-7";
    trackstats::Registry small = tstest::manual();
    (void)small.prometheus(capped);
    std::vector<trackstats::Track> five;
    for (std::uint64_t i = 0; i < 5; i++) {
        five.push_back(small.open("PA_" + std::to_string(i), "TR_" + std::to_string(i), "FR"));
        five.back().record_up(1000 * (i + 1));
    }
    small.tick();
    const std::string text = small.prometheus(capped);
    std::size_t per_track = 0, overflow = 0;
    for (const Sample& s : samples(text)) {
        EXPECT_TRUE(s.labels.rfind("node_id=\"node-7\"", 0) == 0) << "every series carries node_id: " << s.name;
        if (s.name == "trackstats_track_bytes_total") {
            (has_label(s, "track_id=\"__overflow__\"") ? overflow : per_track)++;
        }
    }
    EXPECT_EQ(per_track, 3u) << text;
    EXPECT_EQ(overflow, 1u) << "one overflow series, for the direction that moved:\n" << text;
    EXPECT_EQ(sum(text, "trackstats_track_bytes_total", {"direction=\"incoming\""}).first, up)
        << "the overflow series keeps what the limit left out";
    EXPECT_EQ(sum(text, "trackstats_track_bytes_total", {"track_id=\"__overflow__\"", "direction=\"incoming\""}).first,
              4000u + 5000u);
}

TEST(Prometheus, ErrorsThrowAndFreeNothingTwice) {
    trackstats::Registry reg = tstest::manual();
    trackstats::Track t = reg.open("PA_e", "TR_e");
    t.record_up(1);
    trackstats::PrometheusOptions bad;
    bad.node_id = std::string_view("n\xff", 2);
    try {
        (void)reg.prometheus(bad);
        FAIL() << "an invalid node_id was accepted";
    } catch (const trackstats::Error& e) {
        EXPECT_EQ(e.code(), TRACKSTATS_RESULT_INVALID_UTF8);
    }

    // From inside a manual registry's sink it works: the exposition never
    // waits for the window pass the sink's caller is in. (An error would be
    // caught by the test in the sink; the wrapper would count an escaping one.)
    std::uint32_t code = 0;
    std::string inside;
    trackstats::Config cfg;
    cfg.mode = trackstats::Mode::Manual;
    trackstats::Registry* self = nullptr;
    trackstats::Registry sunk(cfg, [&](const trackstats::Report&) {
        try {
            inside = self->prometheus();
        } catch (const trackstats::Error& e) {
            code = static_cast<std::uint32_t>(e.code());
        }
    });
    self = &sunk;
    trackstats::Track s = sunk.open("PA_s", "TR_s");
    s.record_up(1);
    sunk.tick();
    EXPECT_EQ(code, 0u);
    EXPECT_EQ(sum(inside, "trackstats_bytes_total", {"direction=\"incoming\""}).first, 1u)
        << "published before the sink is called";
    EXPECT_EQ(sunk.sink_exceptions(), 0u);

    trackstats::Registry moved(std::move(reg));
    EXPECT_THROW((void)reg.prometheus(), trackstats::Error);  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(moved.prometheus().empty());
}
