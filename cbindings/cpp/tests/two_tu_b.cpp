// The second translation unit of the two-TU test (see two_tu.hpp).
#include "trackstats.hpp"  // twice through two_tu.hpp too: include guards
#include "two_tu.hpp"

trackstats::Track open_in_tu_b(trackstats::Registry& reg) { return reg.open("PA_tu_b", "TR_shared", "", 2); }

std::uint64_t record_in_tu_b(const trackstats::Track& t) { return record_burst(t, 100, 30); }

trackstats::Stats stats_in_tu_b(const trackstats::Registry& reg) { return reg.stats(); }
