// The installed-package consumer: opens a track, records (plain and packet),
// ticks, drains and checks the sums and the Prometheus exposition. Exits
// non-zero on any mismatch.
#include <trackstats.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

int main() {
    trackstats::Config cfg;
    cfg.mode = trackstats::Mode::Manual;
    trackstats::Registry reg(cfg);
    trackstats::Track t = reg.open("PA_consumer", "TR_consumer", "DE", 7);
    std::uint64_t want = 0;
    for (std::uint64_t i = 1; i <= 1000; i++) {
        t.record_up(i);
        want += i;
    }
    t.record_up_packet(10, 1, true);
    t.record_up_packet(10, 3, true);  // 2 lost
    want += 20;
    reg.tick();
    trackstats::Batch batch(8);
    std::uint64_t got = 0, messages = 0, lost = 0;
    while (reg.drain(batch) > 0) {
        for (const trackstats::Report& r : batch) {
            if (r.track_id == "TR_consumer" && r.user_data == 7) {
                got += r.bytes;
                messages += r.messages;
                lost += r.packets_lost;
            }
        }
    }
    const std::string prom = reg.prometheus();
    const std::string line = "trackstats_bytes_total{direction=\"incoming\",country=\"DE\"} " + std::to_string(want);
    const bool ok = got == want && messages == 1002 && lost == 1 && prom.find(line) != std::string::npos;
    std::printf("consumer: trackstats %s, %llu bytes reported of %llu: %s\n", trackstats::version().data(),
                static_cast<unsigned long long>(got), static_cast<unsigned long long>(want), ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}
