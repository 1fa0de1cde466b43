// A fake SFU forwarding loop: one publisher's messages are forwarded to its
// subscribers. Each message is recorded once upstream on the publisher's
// track and once downstream on each subscriber's copy, keyed like LiveKit
// (the subscriber's participant and country, the publisher's track). A relay
// copy to another node has no stats (a NULL Track). A callback sink prints
// every report; at the end the reported sums are checked against what the
// loop counted, and the registry's Prometheus exposition (what a /metrics
// handler would serve) is printed.
//
//   forward_example [--seconds N] [--interval-ms M]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "trackstats.hpp"

namespace {

struct Subscriber {
    std::string participant;
    std::string country;
    trackstats::Track stats;  // NULL for the relay: not counted on this node
};

/// What the sink saw, per (participant, direction). Written on the sampler
/// thread; read by main after Registry::close(), which joins that thread.
using Seen = std::map<std::string, std::uint64_t>;

std::string key(std::string_view participant, trackstats::Direction d) {
    return std::string(participant) + "/" + std::string(trackstats::stream_type(d));
}

}  // namespace

int main(int argc, char** argv) {
    long seconds = 2, interval_ms = 500;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--seconds") == 0) {
            seconds = std::atol(argv[i + 1]);
        } else if (std::strcmp(argv[i], "--interval-ms") == 0) {
            interval_ms = std::atol(argv[i + 1]);
        }
    }

    Seen seen;
    trackstats::Config cfg;
    cfg.interval = std::chrono::milliseconds(interval_ms);
    trackstats::Registry reg(cfg, [&seen](const trackstats::Report& r) {
        // LiveKit's StatsKeyForData fields: country, stream type, participant, track.
        std::printf("%-3.*s %-10s %-8.*s %-7.*s %9llu bytes %6llu msgs%s%s\n", static_cast<int>(r.country.size()),
                    r.country.data(), trackstats::stream_type(r.direction).data(),
                    static_cast<int>(r.participant_id.size()), r.participant_id.data(),
                    static_cast<int>(r.track_id.size()), r.track_id.data(), static_cast<unsigned long long>(r.bytes),
                    static_cast<unsigned long long>(r.messages), r.is_final() ? " final" : "",
                    r.is_late() ? " late" : "");
        seen[key(r.participant_id, r.direction)] += r.bytes;
    });

    const std::string track_id = "TR_cam";
    trackstats::Track publisher = reg.open("PA_pub", track_id, "DE");
    std::vector<Subscriber> subs;
    for (auto [pid, country] : {std::pair{"PA_anna", "FR"}, std::pair{"PA_ben", "US"}, std::pair{"PA_chen", ""}}) {
        subs.push_back({pid, country, reg.open(pid, track_id, country)});
    }
    subs.push_back({"PA_relay", "", trackstats::Track()});

    std::map<std::string, std::uint64_t> sent;  // what the loop forwarded
    std::uint32_t seed = 12345;
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::seconds(seconds);
    bool chen_left = false;
    for (std::uint64_t i = 0; std::chrono::steady_clock::now() < end; i++) {
        seed = seed * 1664525u + 1013904223u;
        const std::uint64_t n = 200 + (seed >> 8) % 1200;  // one RTP-sized message
        publisher.record_up(n);
        sent[key("PA_pub", trackstats::Direction::Up)] += n;
        for (Subscriber& s : subs) {
            // ... write the message to the subscriber's transport, then:
            s.stats.record_down(n);
            if (s.stats) {
                sent[key(s.participant, trackstats::Direction::Down)] += n;
            }
        }
        if (!chen_left && std::chrono::steady_clock::now() > start + std::chrono::milliseconds(seconds * 500)) {
            // A subscriber leaves halfway: its final report comes within ms.
            subs.erase(subs.begin() + 2);
            chen_left = true;
        }
        if (i % 64 == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    publisher.close();
    subs.clear();
    reg.close();  // final reports for everything, delivered before it returns

    // The cumulative counters by direction and country, as Prometheus would
    // scrape them (serve reg.prometheus() as is on /metrics; the # HELP and
    // # TYPE lines are skipped here to keep the output short).
    trackstats::PrometheusOptions prom;
    prom.node_id = "node-1";
    std::istringstream exposition(reg.prometheus(prom));
    std::printf("-- prometheus exposition (samples) --\n");
    for (std::string line; std::getline(exposition, line);) {
        if (!line.empty() && line[0] != '#') {
            std::printf("%s\n", line.c_str());
        }
    }

    bool ok = !sent.empty() && seen == sent;
    for (const auto& [k, v] : sent) {
        if (seen[k] != v) {
            std::printf("MISMATCH %s: forwarded %llu, reported %llu\n", k.c_str(), static_cast<unsigned long long>(v),
                        static_cast<unsigned long long>(seen[k]));
        }
    }
    const trackstats::Stats st = reg.stats();
    std::printf("%llu reports, %llu sink exceptions; every byte accounted for: %s\n",
                static_cast<unsigned long long>(st.reports_emitted),
                static_cast<unsigned long long>(reg.sink_exceptions()), ok ? "yes" : "no");
    return ok ? 0 : 1;
}
