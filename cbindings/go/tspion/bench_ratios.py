#!/usr/bin/env python3
"""Medians and ratios of `make bench-pion` (bench_test.go's BenchmarkPion*).

For each stream direction it prints the median ns/op of the three cases,
each interceptor's cost net of the no-interceptor baseline, and how many
times cheaper the trackstats interceptor is than pion's stats interceptor,
gross (whole Read/Write calls) and net (the interceptors' own cost).

usage: bench_ratios.py BENCH_OUTPUT
"""

import statistics
import sys

CASES = ("baseline-none", "trackstats", "pion-stats")


def medians(path):
    runs = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or not parts[0].startswith("BenchmarkPion") or parts[3] != "ns/op":
                continue
            # BenchmarkPionRemote/trackstats-2 -> (Remote, trackstats)
            group, _, case = parts[0].removeprefix("BenchmarkPion").partition("/")
            case = case.rsplit("-", 1)[0]
            runs.setdefault((group, case), []).append(float(parts[2]))
    return {k: (statistics.median(v), len(v)) for k, v in runs.items()}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    m = medians(sys.argv[1])
    groups = sorted({g for g, _ in m})
    if not groups:
        sys.exit("bench_ratios: no BenchmarkPion results in " + sys.argv[1])
    ok = True
    print(f"{'stream':<8} {'case':<14} {'median ns/op':>12} {'net ns':>8} {'runs':>5}")
    for g in groups:
        if any((g, c) not in m for c in CASES):
            sys.exit(f"bench_ratios: {g} lacks one of {CASES}")
        base = m[(g, "baseline-none")][0]
        for c in CASES:
            t, n = m[(g, c)]
            print(f"{g:<8} {c:<14} {t:>12.1f} {t - base:>8.1f} {n:>5}")
    print()
    for g in groups:
        base, ts, pion = (m[(g, c)][0] for c in CASES)
        gross, net = pion / ts, (pion - base) / max(ts - base, 1e-9)
        ok = ok and net >= 10
        print(f"{g}: trackstats is {net:.1f}x cheaper than pion's stats interceptor per packet net of the baseline "
              f"({gross:.1f}x gross)")
    print("goal (net >= 10x):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
