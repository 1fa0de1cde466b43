#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the results of `make bench`.

Reads criterion's estimates (target/criterion/**/new/{benchmark,estimates}.json,
the median of each benchmark), the custom benches' JSON files
(target/bench-results/{latency,memory,jitter,sfu}.json), the binding benches'
output that `make bench` saves (target/bench-results/bench-go.txt in
`go test -bench` format, bench-cpp.txt in Google Benchmark's), and any
Markdown fragments in target/bench-results/*.md, and renders one section per
goal (GOALS below): medians, ratios against the baseline measured in the
same run and group, the reference anchors, and whether each goal is met.
Benchmarks it does not know (a new bench file) are listed at the end, so
nothing measured is silently left out.

Usage: scripts/bench_report.py [--criterion DIR] [--results DIR]
                               [--since STAMP] [--notes FILE] [--out FILE]
With --since, results older than STAMP's modification time are ignored (so a
partial run cannot mix with stale figures).
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

# Reference figures for the project's 2-core machine, shown beside the
# measured baselines.
ANCHOR_FETCH_ADD_NS = 2.0
ANCHOR_CONTENDED_NS = 7.5
ANCHOR_CGO_NS = 30.0


class Goal:
    """A figure's upper limit, in its unit ("x" for a ratio, "ns", "B")."""

    def __init__(self, limit, unit):
        self.limit = limit
        self.unit = unit

    def amount(self):
        """The limit as the report writes it: 1.2x, 5 ns, 1 us, 256 B."""
        if self.unit == "x":
            return f"{self.limit:g}x"
        if self.unit == "ns" and self.limit >= 1e6:
            return f"{self.limit / 1e6:g} ms"
        if self.unit == "ns" and self.limit >= 1000:
            return f"{self.limit / 1000:g} us"
        return f"{self.limit:g} {self.unit}"

    def target(self):
        return f"<= {self.amount()}" if self.limit else "0"

    def verdict(self, value):
        """'met' / 'MISSED' for value <= limit, or 'not measured'."""
        if value is None:
            return "not measured"
        return "met" if value <= self.limit else "**MISSED**"


# Every goal, written once: the sections' headings, tables and the summary
# all read their limits from here.
GOALS = {
    "record": Goal(1.2, "x"),  # record_up vs a bare fetch_add
    "two_threads": Goal(1.1, "x"),  # two threads on two tracks vs one thread (no slowdown)
    "scaling": Goal(1.1, "x"),  # N threads on N tracks vs N bare padded atomics
    "tick_idle": Goal(5.0, "ns"),  # per idle track
    "tick_active": Goal(50.0, "ns"),  # per active track
    "churn": Goal(1000.0, "ns"),  # open + close + release
    "latency": Goal(1000.0, "ns"),  # record p99.9 under tick and churn
    "memory": Goal(256.0, "B"),  # per open track, ids excluded
    "drift": Goal(0.0, "ns"),  # window ends off the absolute grid
    "sfu_bare": Goal(1.3, "x"),  # SFU-shaped: net cost per record vs bare atomics, same pattern
    "sfu_livekit_go": Goal(0.4, "x"),  # SFU-shaped, Go: net cost per record vs the LiveKit model
    "collect": Goal(10e6, "ns"),  # one Collect / Produce, aggregates, 1M open tracks (issue 18)
    "allocs_per_track": Goal(0.0, "allocs"),  # their allocations beyond those at 1k tracks, per track
}

# The SFU-shaped workloads (benches/sfu.rs, cbindings/go/trackstats/
# sfu_bench_test.go, cbindings/cpp/bench/sfu_bench.cpp): publishers, each
# with this many subscribers; one message is 1 + fan-out records.
SFU_PUBLISHERS = [1000, 10000]
SFU_FAN_OUT = 10
SFU_RECORDS = 1 + SFU_FAN_OUT
# The cases, as each bench names them, and how the report labels them.
SFU_CASES = [
    ("none", "no recording (the host's own work)"),
    ("bare", "bare `fetch_add`, a padded word per track (baseline)"),
    ("bare_rule", "bare words with trackstats' test on the old value"),
    ("trackstats", "trackstats"),
    ("livekit", "LiveKit's four adds per message"),
]


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine():
    model = ""
    for line in run(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    virt = ""
    for line in run(["lscpu"]).splitlines():
        if line.startswith("Hypervisor vendor:"):
            virt = line.split(":", 1)[1].strip()
    mem_gib = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem_gib = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    # A copy of the tree without .git (a lent bench machine) names its commit here.
    commit = os.environ.get("TRACKSTATS_BENCH_COMMIT") or run(["git", "rev-parse", "--short", "HEAD"])
    dirty = "" if os.environ.get("TRACKSTATS_BENCH_COMMIT") else run(
        ["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "cpu": model or platform.processor() or "unknown",
        "cores": str(os.cpu_count() or "?"),
        "memory": mem_gib or "?",
        "kernel": platform.release(),
        "virt": virt,
        "rustc": run(["rustc", "--version"]),
        "commit": (commit + (" (with uncommitted changes)" if dirty else "")) if commit else "unknown",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_machine(results, since):
    """The machine `make bench` ran on (machine.json, written when it started),
    else this one: the report may be rendered elsewhere than it was measured."""
    saved = load_json(results, "machine", since)
    return saved if saved else machine()


def load_criterion(root, since):
    out = {}
    for bj in glob.glob(os.path.join(root, "**", "new", "benchmark.json"), recursive=True):
        ej = os.path.join(os.path.dirname(bj), "estimates.json")
        if not os.path.exists(ej) or os.path.getmtime(ej) < since:
            continue
        with open(bj) as f:
            meta = json.load(f)
        with open(ej) as f:
            est = json.load(f)
        tp = meta.get("throughput") or {}
        elements = tp.get("Elements") if isinstance(tp, dict) else None
        out[meta["full_id"]] = {
            "median": est["median"]["point_estimate"],
            "lo": est["median"]["confidence_interval"]["lower_bound"],
            "hi": est["median"]["confidence_interval"]["upper_bound"],
            "elements": elements,
        }
    return out


def load_json(results, name, since):
    path = os.path.join(results, name + ".json")
    if not os.path.exists(path) or os.path.getmtime(path) < since:
        return None
    with open(path) as f:
        return json.load(f)


def ns(v):
    if v is None:
        return "not measured"
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.2f} us"
    return f"{v:.2f} ns"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def fmt_num(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def parse_go(path, since, every_run=False):
    """`go test -bench` output: {name: {unit: median over -count runs}}, or
    with every_run, {name: {unit: [each run's value, in order]}}."""
    if not os.path.exists(path) or os.path.getmtime(path) < since:
        return {}
    runs = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or not parts[0].startswith("Benchmark") or not parts[1].isdigit():
                continue
            # The GOMAXPROCS suffix goes, except where it is what is varied
            # (-cpu 1,2,4,...); there it becomes "@N" (N = 1 without one).
            name = parts[0]
            if "Parallel" in name:
                m = re.match(r"^(.*?)(?:-(\d+))?$", name)
                name = f"{m.group(1)}@{m.group(2) or 1}"
            else:
                name = re.sub(r"-\d+$", "", name)
            units = runs.setdefault(name, {})
            for value, unit in zip(parts[2::2], parts[3::2]):
                try:
                    units.setdefault(unit, []).append(float(value))
                except ValueError:
                    pass
    if every_run:
        return runs
    return {k: {u: median(v) for u, v in units.items()} for k, units in runs.items()}


def parse_gbench(path, since):
    """Google Benchmark console output: {name: (median real ns, median CPU ns)}."""
    if not os.path.exists(path) or os.path.getmtime(path) < since:
        return {}
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\S+)_median\s+([\d.]+) (ns|us|ms|s)\s+([\d.]+) (ns|us|ms|s)\s", line)
            if m:
                out[m.group(1)] = (float(m.group(2)) * scale[m.group(3)], float(m.group(4)) * scale[m.group(5)])
    return out


def parse_gbench_counters(path, since):
    """Google Benchmark's user counters on its median lines: {name: {counter: value}}."""
    if not os.path.exists(path) or os.path.getmtime(path) < since:
        return {}
    si = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3, "u": 1e-6, "n": 1e-9}
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\S+)_median\s", line)
            if m:
                out[m.group(1)] = {c.group(1): float(c.group(2)) * si[c.group(3)]
                                   for c in re.finditer(r"(\S+)=([\d.]+)([kMGmun]?)(?:/s)?\b", line)}
    return out


def misses_not_counted(path):
    """Why a binding's SFU bench counted no misses, as it printed it, or None."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            m = re.search(r"misses not counted: (.*)$", line)
            if m:
                return m.group(1).strip()
    return None


class Report:
    """The document being written, the criterion results it reads, and the
    summary rows the sections add (one per goal checked)."""

    def __init__(self, crit, results, since):
        self.crit = crit
        self.results = results
        self.since = since
        self.used = set()
        self.lines = []
        self.summary = []

    def goal(self, what, measured, goal, met):
        self.summary.append([what, measured, goal, met])

    def med(self, bid):
        b = self.crit.get(bid)
        if b is None:
            return None
        self.used.add(bid)
        return b["median"]

    def per_element(self, bid):
        b = self.crit.get(bid)
        if b is None or not b["elements"]:
            return None
        self.used.add(bid)
        return b["median"] / b["elements"]

    def json(self, name):
        return load_json(self.results, name, self.since)

    def w(self, s=""):
        self.lines.append(s)

    def table(self, header, rows):
        self.w("| " + " | ".join(header) + " |")
        self.w("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            self.w("| " + " | ".join(r) + " |")
        self.w()


def section_machine(r, m):
    r.w("## Machine")
    r.w()
    r.w(f"- CPU: {m['cpu']}, {m['cores']} cores" + (f" (virtual machine, {m['virt']})" if m["virt"] else ""))
    r.w(f"- Memory: {m['memory']}; kernel {m['kernel']}; {m['rustc']}")
    r.w(f"- Commit {m['commit']}, run {m['date']}")
    r.w()


def section_method(r):
    r.w("## Method")
    r.w()
    r.w("Every figure is a median. Criterion benches (`benches/record.rs`, `tick.rs`, `churn.rs`) report the "
        "median time per iteration over their samples; each group measures its own baseline in the same run, "
        "and ratios are against that baseline. The custom benches (`latency.rs`, `memory.rs`, `jitter.rs`) "
        "print their method in their doc comment and write JSON that this report reads. The anchors are "
        "reference figures for the project's 2-core machine: a bare uncontended `fetch_add` about 2 ns, the "
        "same add from two threads on one line about 7.5 ns, a cgo call about 30 ns, and LiveKit's four atomic "
        "adds per message.")
    r.w()


class SfuResults:
    """One language's SFU-shaped results: for each publisher count and case,
    the forwarding thread's CPU time per record in each pass (or run), and
    the misses per record where the machine counted them."""

    def __init__(self, lang, how):
        self.lang = lang
        self.how = how
        self.times = {}  # {publishers: {case: [ns per record, per pass]}}
        self.misses = {}  # {publishers: {case: (L1D, cache) misses per record}}
        self.why_no_misses = None

    def add(self, publishers, case, times, misses=None):
        self.times.setdefault(publishers, {})[case] = [t for t in times if t is not None]
        if misses and None not in misses:
            self.misses.setdefault(publishers, {})[case] = misses

    def net(self, publishers, case):
        """Median time per record less the no-recording case's."""
        t = self.times.get(publishers, {})
        if not t.get(case) or not t.get("none"):
            return None
        return median(t[case]) - median(t["none"])

    def net_ratio(self, publishers, case, base):
        return ratio(self.net(publishers, case), self.net(publishers, base))

    def pass_range(self, publishers, case, base):
        """The ratio of the net costs in each pass: (lowest, highest)."""
        t = self.times.get(publishers, {})
        qs = [(c - n) / (b - n) for c, b, n in zip(t.get(case, []), t.get(base, []), t.get("none", []))
              if b - n > 0]
        return (min(qs), max(qs)) if len(qs) > 1 else None


def sfu_rust(r):
    res = SfuResults("Rust", "criterion (`benches/sfu.rs`), 3 passes with the cases interleaved")
    passes = {}
    for k in r.crit:
        m = re.match(rf"^sfu_(\d+)x{SFU_FAN_OUT}/(\w+)/(\d+)$", k)
        if m:
            passes.setdefault(int(m[1]), {}).setdefault(m[2], {})[int(m[3])] = r.per_element(k)
    j = r.json("sfu") or {}
    for n, cases in passes.items():
        for case, by_pass in cases.items():
            ev = [j.get(f"sfu_{n}x{SFU_FAN_OUT}/{case}/{e}_per_record") for e in ("l1d_misses", "cache_misses")]
            res.add(n, case, [v for _, v in sorted(by_pass.items())], tuple(ev))
    res.why_no_misses = None if j.get("perf") == "counted" else j.get("perf")
    return res


def sfu_go(r):
    res = SfuResults("Go", "`go test -bench` (`sfu_bench_test.go`), 5 runs of the test binary, cases in turn")
    path = os.path.join(r.results, "bench-go.txt")
    for name, units in parse_go(path, r.since, every_run=True).items():
        m = re.match(rf"^BenchmarkSFU/(\d+)x{SFU_FAN_OUT}/(\w+)$", name)
        if m:
            ev = [units.get(f"{e}/record") for e in ("L1D-misses", "cache-misses")]
            res.add(int(m[1]), m[2], units.get("cpu-ns/record", []),
                    tuple(median(v) if v else None for v in ev))
    res.why_no_misses = misses_not_counted(path)
    return res


def sfu_cpp(r):
    res = SfuResults("C++", "Google Benchmark (`sfu_bench.cpp`), 5 repetitions randomly interleaved")
    path = os.path.join(r.results, "bench-cpp.txt")
    counters = parse_gbench_counters(path, r.since)
    for name, (_, cpu) in parse_gbench(path, r.since).items():
        m = re.match(rf"^SFU/(\d+)x{SFU_FAN_OUT}/(\w+)$", name)
        if m:
            c = counters.get(name, {})
            res.add(int(m[1]), m[2], [cpu / SFU_RECORDS],
                    (c.get("L1D-misses/record"), c.get("cache-misses/record")))
    res.why_no_misses = misses_not_counted(path)
    return res


def sfu_table(r, res):
    g_bare, g_lk = GOALS["sfu_bare"], GOALS["sfu_livekit_go"]
    r.w(f"### {res.lang}: {res.how}")
    r.w()
    rows = []
    for n in sorted(res.times):
        t = res.times[n]
        for case, label in SFU_CASES:
            if case not in t:
                continue
            q = res.net_ratio(n, case, "bare") if case not in ("none", "bare") else None
            span = res.pass_range(n, case, "bare") if q is not None else None
            lk = res.net_ratio(n, case, "livekit") if case in ("trackstats", "bare") else None
            mi = res.misses.get(n, {})
            net_m = [fmt_num(a - b) for a, b in zip(mi[case], mi["none"])] \
                if case != "none" and case in mi and "none" in mi else ["-", "-"]
            rows.append([f"{n:,} x {SFU_FAN_OUT}", label, ns(median(t[case])) if t[case] else "-",
                         "-" if case == "none" else ns(res.net(n, case)),
                         "1.00x" if case == "bare" else fmt_ratio(q),
                         f"{span[0]:.2f}x .. {span[1]:.2f}x" if span else "-", fmt_ratio(lk)] + net_m)
        q = res.net_ratio(n, "trackstats", "bare")
        r.goal(f"SFU. {res.lang}, {n:,} x {SFU_FAN_OUT}: trackstats' net cost per record vs bare atomics",
               fmt_ratio(q), g_bare.target(), g_bare.verdict(q))
        if res.lang == "Go":
            q = res.net_ratio(n, "trackstats", "livekit")
            r.goal(f"SFU. Go, {n:,} x {SFU_FAN_OUT}: trackstats' net cost per record vs the LiveKit model's",
                   fmt_ratio(q), g_lk.target(), g_lk.verdict(q))
    if not rows:
        r.w("Not measured in this run.")
        r.w()
        return
    r.table(["workload", "case", "CPU per record", "net per record", "net vs bare", "range over passes",
             "net vs LiveKit", "L1D misses / record, net", "cache misses / record, net"], rows)
    if res.why_no_misses:
        r.w(f"Misses not counted on this machine ({res.why_no_misses}).")
        r.w()


def section_sfu(r):
    g_bare, g_lk = GOALS["sfu_bare"], GOALS["sfu_livekit_go"]
    r.w(f"## SFU-shaped recording (goals: net cost per record at most {g_bare.amount()} the bare atomic add of "
        f"the same pattern; in Go at most {g_lk.amount()} the LiveKit model's)")
    r.w()
    r.w(f"N publishers, each forwarded to {SFU_FAN_OUT} subscribers: every message is recorded once up and "
        f"{SFU_FAN_OUT} times down, in forwarding order, publishers taking turns. The same host in the three "
        "languages: a publisher array, each publisher with a list of its subscribers' objects, one heap object "
        "per subscriber holding its stats handle and the host's own counters. Subscriptions are opened in a "
        "shuffled order, so one publisher's down tracks lie apart in memory and each record finds its line "
        "cold. Message sizes from a fixed mix: 55% video packets (900-1199 B), 35% audio (80-179 B), 10% data "
        "(40-1039 B). The cases differ only in the handle: no recording (the host's own work, subtracted from "
        "the others: \"net\"); a bare `fetch_add` on one 128-byte padded word per track, one pointer away, "
        "the words in open order (the physical limit of the pattern); trackstats (a registry with 1 s windows "
        "whose reports a consumer thread or goroutine takes, each one); LiveKit's four atomic adds per "
        "message on one object per track. Rust also runs the bare words with trackstats' test on the value "
        "the add returns, which separates the cost of the window-word rule from where the words lie. The "
        "figure is the forwarding thread's CPU time per record (the sampler's and the consumer's are their "
        "own threads'; the whole-process figures below count everything); the range is the net ratio in "
        "each pass or run.")
    r.w()
    for res in (sfu_rust(r), sfu_cpp(r), sfu_go(r)):
        sfu_table(r, res)


def section_sfu_process(r):
    r.w("## SFU-shaped, the whole process (Go, 1,000 x 10 at 50 messages per second per publisher)")
    r.w()
    go = parse_go(os.path.join(r.results, "bench-go.txt"), r.since)
    modes = {m: go.get(f"BenchmarkSFUProcess/{m}") for m in ("none", "trackstats", "livekit")}
    if not all(modes.values()):
        r.w("Not measured in this run.")
        r.w()
        return
    r.w("`BenchmarkSFUProcess`: each mode in a child process of its own, the three at once, for the same "
        f"duration ({modes['none'].get('seconds', 0):.0f} s). A goroutine per CPU, woken by its own 20 ms ticker, forwards one "
        "message from each of its publishers, so every publisher sends 50 messages a second and 550,000 "
        "records a second are made. trackstats: 5 s windows, a consumer goroutine taking every report from "
        "the report channel. LiveKit model: its goroutine and 5 s ticker per track, reports counted by its "
        "listener. CPU seconds are the process's (user and system, every thread) over the run; RSS at the "
        "end; goroutines midway; GC cycles during the run.")
    r.w()
    base_cpu = modes["none"].get("cpu-s")
    rows = []
    for mode, label in [("none", "no recording"), ("trackstats", "trackstats"), ("livekit", "LiveKit model")]:
        u = modes[mode]
        net = None if mode == "none" or base_cpu is None else u.get("cpu-s", 0) - base_cpu
        per = net / u["records"] * 1e9 if net is not None and u.get("records") else None
        rows.append([label, f"{u.get('cpu-s', 0):.2f} s", "-" if net is None else f"{net:.2f} s",
                     "-" if per is None else ns(per), f"{u.get('RSS-MiB', 0):.1f} MiB",
                     f"{u.get('goroutines', 0):,.0f}", f"{u.get('GC-cycles', 0):,.0f}",
                     f"{u.get('records', 0):,.0f}", f"{u.get('reports', 0):,.0f}"])
    r.table(["mode", "CPU", "CPU net of no recording", "net CPU per record", "RSS", "goroutines", "GC cycles",
             "records", "reports taken"], rows)
    ts, lk = modes["trackstats"], modes["livekit"]
    if base_cpu is not None:
        q = ratio(ts.get("cpu-s", 0) - base_cpu, lk.get("cpu-s", 0) - base_cpu)
        r.goal("SFU process, Go 1,000 x 10: trackstats' net CPU vs the LiveKit model's", fmt_ratio(q), "-",
               "reported")
    r.goal("SFU process, Go 1,000 x 10: RSS, trackstats vs the LiveKit model",
           f"{ts.get('RSS-MiB', 0):.1f} / {lk.get('RSS-MiB', 0):.1f} MiB", "-", "reported")


def section_record(r):
    g = GOALS["record"]
    r.w(f"## 1. `record_up`, uncontended (goal: at most {g.amount()} a bare `fetch_add`)")
    r.w()
    base = r.med("record_up/bare_fetch_add")
    rows = [["bare `fetch_add` on a `CachePadded<AtomicU64>` (baseline)", ns(base), "1.00x" if base else "-", ""]]
    for label, bid, checked in [
        ("`Track::record_up` (Rust API)", "record_up/rust_api", True),
        ("`trackstats_record_up` (C ABI, indirect call)", "record_up/c_abi", True),
        ("LiveKit: four atomic adds per message", "record_up/livekit_four_adds", False),
    ]:
        v = r.med(bid)
        q = ratio(v, base)
        rows.append([label, ns(v), fmt_ratio(q), g.verdict(q) if checked else "anchor"])
        if checked:
            r.goal(f"1. {label} vs bare `fetch_add`", fmt_ratio(q), g.target(), g.verdict(q))
        else:
            r.goal("1. LiveKit's four adds vs bare `fetch_add` (anchor)", fmt_ratio(q), "-", "anchor")
    rows.append(["anchor: bare `fetch_add`", ns(ANCHOR_FETCH_ADD_NS), fmt_ratio(ratio(ANCHOR_FETCH_ADD_NS, base)),
                 "anchor"])
    r.table(["case", "median", "vs baseline", "goal"], rows)


def section_contention(r):
    g = GOALS["two_threads"]
    r.w("## 2. Two threads (goal: two threads on two tracks no slower than one thread)")
    r.w()
    r.w("Threads start together on a barrier; the time per record is wall time from the first thread's start "
        "to the last one's end divided by the records per thread. The two tracks are opened back to back, so "
        "their slots are adjacent in the slab. On a loaded 2-core machine a thread can lose its core, which "
        "shows in the two-thread rows and in their bare counterparts alike; compare against those.")
    r.w()
    one = r.med("contention/one_thread_one_track")
    bare1 = r.med("contention/bare_one_thread")
    bare22 = r.med("contention/bare_two_threads_two_slots")
    bare21 = r.med("contention/bare_two_threads_one_slot")
    two2 = r.med("contention/two_threads_two_tracks")
    two1 = r.med("contention/two_threads_one_track")
    goal_two = ratio(two2, one)
    rows = [
        ["one thread, one track (baseline)", ns(one), "1.00x" if one else "-", ""],
        ["two threads, two adjacent tracks", ns(two2), fmt_ratio(goal_two),
         g.verdict(goal_two) + f" (at most {g.amount()})"],
        ["two threads, one track", ns(two1), fmt_ratio(ratio(two1, one)),
         f"{fmt_ratio(ratio(two1, bare21))} of bare contended"],
        ["bare: one thread", ns(bare1), fmt_ratio(ratio(bare1, one)), ""],
        ["bare: two threads, two adjacent padded atomics", ns(bare22), fmt_ratio(ratio(bare22, one)),
         f"two tracks are {fmt_ratio(ratio(two2, bare22))} of this"],
        ["bare: two threads, one atomic (contended)", ns(bare21), fmt_ratio(ratio(bare21, one)), ""],
        ["anchor: contended add", ns(ANCHOR_CONTENDED_NS), fmt_ratio(ratio(ANCHOR_CONTENDED_NS, one)), "anchor"],
    ]
    r.table(["case", "median per record", "vs one thread", "goal / note"], rows)
    r.goal("2. two threads on two tracks vs one thread", fmt_ratio(goal_two), f"{g.target()} (no slowdown)",
           g.verdict(goal_two))
    fs = ratio(two2, bare22)
    r.goal("2. same, against two threads on two adjacent bare padded atomics (isolates false sharing)",
           fmt_ratio(fs), g.target(), g.verdict(fs))
    r.goal("2. two threads on one track vs bare contended add", fmt_ratio(ratio(two1, bare21)), "-", "reported")


def section_scaling(r, m):
    g = GOALS["scaling"]
    r.w(f"## 2b. More threads (goal: N threads on N tracks at most {g.amount()} N threads on N bare padded atomics)")
    r.w()
    counts = sorted({int(k.rsplit("/", 1)[1]) for k in r.crit if k.startswith("scaling/")})
    if not counts:
        r.w(f"Not run: this machine has {m['cores']} cores, and section 2 covers two threads. `make bench` runs "
            "this group on a machine with more (`TRACKSTATS_BENCH_THREADS=1,2,4` picks the counts); the README "
            "links the figures from a 16-core machine.")
        r.w()
        return
    r.w("The same measurement as section 2 at each thread count (`benches/record.rs`, group `scaling`): "
        "time per record on each thread, wall time from the first thread's start to the last one's end. "
        "`sampled`: the same tracks in a registry whose sampler thread closes a window every millisecond "
        "(5000 times the default rate), so the sampler's swaps and the windows' first-record marks run "
        "among the records. Throughput is all threads' records per second on N tracks.")
    r.w()
    rows = []
    for n in counts:
        tr, bs = r.med(f"scaling/tracks/{n}"), r.med(f"scaling/bare_slots/{n}")
        sp = r.med(f"scaling/sampled/{n}")
        one, bo = r.med(f"scaling/one_track/{n}"), r.med(f"scaling/bare_one/{n}")
        q = ratio(tr, bs)
        rows.append([str(n), ns(tr), ns(bs), fmt_ratio(q), g.verdict(q), fmt_ratio(ratio(sp, bs)),
                     f"{n / tr * 1e3:,.0f} M/s" if tr else "-", ns(one), ns(bo), fmt_ratio(ratio(one, bo))])
        if n == counts[-1]:
            r.goal(f"2b. {n} threads on {n} tracks vs {n} bare padded atomics", fmt_ratio(q), g.target(),
                   g.verdict(q))
    r.table(["threads", "N tracks", "N bare atomics", "ratio", "goal", "sampled vs bare",
             "throughput", "one track", "one bare atomic", "ratio"], rows)


def section_tick(r):
    idle_g, act_g = GOALS["tick_idle"], GOALS["tick_active"]
    r.w(f"## 3. Sampler tick per open track (goals: at most {idle_g.amount()} idle, {act_g.amount()} active)")
    r.w()
    r.w("One `Registry::tick` on a manual registry, divided by the open tracks. Active: every track recorded "
        "once before the tick (not timed), up only (one report per track) or up and down (two reports per track, "
        "the usual case for a subscribed track); the tick includes the window swaps, report creation and the push "
        "into the outbox; draining the reports is the consumer's and not timed. \"Consumer behind\": up and down "
        "with the previous tick's reports still undrained, so every report merges into a pending one (no goal; "
        "the lagging-consumer path). Baselines over the same number of 128-byte padded words: `bare_scan` loads "
        "each, `bare_swap` swaps each with 0.")
    r.w()
    rows = []
    for n in ["10000", "100000", "1000000"]:
        scan = r.per_element(f"tick/bare_scan/{n}")
        idle = r.per_element(f"tick/idle/{n}")
        swap = r.per_element(f"tick/bare_swap/{n}")
        act = r.per_element(f"tick/active/{n}")
        both = r.per_element(f"tick/active_both/{n}")
        behind = r.per_element(f"tick/active_behind/{n}")
        rows.append([f"{int(n):,}", ns(idle), fmt_ratio(ratio(idle, scan)), idle_g.verdict(idle), ns(act),
                     fmt_ratio(ratio(act, swap)), act_g.verdict(act), ns(both), act_g.verdict(both), ns(behind),
                     ns(scan), ns(swap)])
        r.goal(f"3. tick, {int(n):,} idle tracks, per track", ns(idle), idle_g.target(), idle_g.verdict(idle))
        r.goal(f"3. tick, {int(n):,} active tracks (up; up and down), per track",
               f"{ns(act)}; {ns(both)}", act_g.target(), f"{act_g.verdict(act)}; {act_g.verdict(both)}")
    r.table(["open tracks", "idle / track", "vs bare_scan", "idle goal", "active (up) / track", "vs bare_swap",
             "active goal", "active (up and down) / track", "goal", "consumer behind / track",
             "bare_scan / track", "bare_swap / track"],
            rows)


def section_churn(r):
    g = GOALS["churn"]
    r.w(f"## 4. Open + close + release churn (goal: at most {g.amount()} each, flat as the count grows)")
    r.w()
    r.w("One iteration opens a track (copying its ids), records one message, closes and releases it, with "
        "`n` other tracks open; the sampler's processing of the close and release (final report, slot free, "
        "via `flush` every 256 iterations) is inside the timing. Baseline `key_only`: making and dropping the "
        "same `TrackKey`.")
    r.w()
    key = r.med("churn/key_only")
    rows = [["key only (baseline)", ns(key), "1.00x" if key else "-", ""]]
    first = None
    for n in ["10000", "100000", "1000000"]:
        v = r.med(f"churn/open_close_release/{n}")
        first = first if first is not None else v
        flat = ratio(v, first)
        rows.append([f"{int(n):,} open", ns(v), fmt_ratio(ratio(v, key)),
                     g.verdict(v) + (f"; {fmt_ratio(flat)} of the 10k figure" if flat else "")])
        r.goal(f"4. open + close + release, {int(n):,} open", ns(v), g.target(), g.verdict(v))
    r.table(["case", "median", "vs key only", "goal"], rows)


def section_latency(r):
    g = GOALS["latency"]
    r.w(f"## 5. Record latency while the sampler ticks 1M tracks and a thread churns (goal: p99.9 at most "
        f"{g.amount()})")
    r.w()
    lat = r.json("latency")
    if not lat:
        r.w("Not measured in this run.")
        r.w()
        return
    r.w(f"Method: {lat['method']}; stamp overhead {lat['stamp_overhead_ns']:.1f} ns subtracted; "
        f"{lat['tracks']:,.0f} open tracks, records spread over {lat['hot_tracks']:.0f} of them; "
        f"{lat['ticks']:.0f} full ticks and {lat['churns']:,.0f} open/close/release churns during "
        f"{lat['seconds']:.1f} s. Single records are timed one at a time, interleaved in blocks with the "
        "baseline (a bare `fetch_add` on padded atomics under the same load). The TSC counts in steps on "
        "some CPUs (about 10 ns on this one), which sets the resolution of p50. Samples above 1 us are "
        "mostly the measuring thread losing its core (3 busy threads on 2 cores).")
    r.w()
    rows = []
    for label, p in [("`record_up`", "record"), ("bare `fetch_add` (baseline)", "bare")]:
        rows.append([label, f"{lat[p + '_samples']:,.0f}", ns(lat[p + "_p50_ns"]), ns(lat[p + "_p99_ns"]),
                     ns(lat[p + "_p999_ns"]), ns(lat[p + "_max_ns"]), f"{lat[p + '_over_1us']:.0f}"])
    r.table(["case", "samples", "p50", "p99", "p99.9", "max", "> 1 us"], rows)
    r.goal("5. record latency p99.9 under tick + churn", ns(lat["record_p999_ns"]), g.target(),
           g.verdict(lat["record_p999_ns"]))
    r.w(f"Goal p99.9 {g.target()}: {g.verdict(lat['record_p999_ns'])} "
        f"(p99.9 is {fmt_ratio(ratio(lat['record_p999_ns'], lat['bare_p999_ns']))} the baseline's).")
    r.w()


def section_memory(r):
    g = GOALS["memory"]
    r.w(f"## 6. Memory per open track (goal: at most {g.amount()} excluding the id strings)")
    r.w()
    mem = r.json("memory")
    if not mem:
        r.w("Not measured in this run.")
        r.w()
        return
    r.w("Measured in a fresh process per count: `allocator` is the growth of live bytes seen by a counting "
        "global allocator, `RSS` the growth of the resident set (/proc/self/statm), both minus the bytes of "
        "the copied id strings and divided by the count. The slab grows in equal segments of 1024 slots, so "
        "the allocator figure includes the unused tail of the last segment (under 1024 slots, never "
        "touched, so not resident); RSS includes malloc's chunk header of the key.")
    r.w()
    rows = []
    for n in ["10000", "100000", "1000000"]:
        a = mem.get(f"alloc_bytes_{n}")
        s = mem.get(f"rss_bytes_{n}")
        r.goal(f"6. memory per track at {int(n):,}: allocator / RSS",
               f"{a:.0f} B / {s:.0f} B" if a is not None and s is not None else "-", g.target(),
               f"{g.verdict(a)} / {g.verdict(s)}")
        rows.append([f"{int(n):,}", f"{a:.0f} B" if a is not None else "-", g.verdict(a),
                     f"{s:.0f} B" if s is not None else "-", g.verdict(s),
                     f"{mem.get(f'allocs_{n}', 0):.1f}", f"{mem.get(f'id_bytes_{n}', 0):.0f} B"])
    r.table(["open tracks", "allocator / track", "goal", "RSS / track", "goal", "allocations / open",
             "id bytes / track (excluded)"], rows)


def section_jitter(r):
    g = GOALS["drift"]
    r.w("## 7. Tick jitter and drift (1000 ticks at 10 ms while recording)")
    r.w()
    jit = r.json("jitter")
    if not jit:
        r.w("Not measured in this run.")
        r.w()
        return
    r.w(f"A sampler thread with a 10 ms interval and a callback sink that timestamps each delivery; a thread "
        f"records on {jit['tracks']:,.0f} tracks throughout, so every window has {jit['tracks']:,.0f} active "
        "tracks. Jitter is the first delivery of a window minus the window's end: the sampler's wake-up delay "
        "plus its pass over the tracks, both on the monotonic clock. The reference drift formula is "
        "(last window end - first window end) - 999 x 10 ms; it is zero by construction while every window "
        "is delivered, and grows by whole intervals when one is not (the sampler missed its deadline and "
        "merged it into the next, counted as a late tick, or the recording thread lost its core for the "
        "whole window, so it had nothing to report). Drift proper is the phase error of the window ends "
        "against the grid.")
    r.w()
    r.table(["windows", "jitter p50", "jitter p99", "jitter max", "drift (phase)", "reference formula",
             "windows without delivery", "late ticks", "ends off the grid"], [[
        f"{jit['windows']:.0f}", ns(jit["jitter_p50_us"] * 1e3), ns(jit["jitter_p99_us"] * 1e3),
        ns(jit["jitter_max_us"] * 1e3), f"{jit['drift_ns']:.0f} ns", f"{jit.get('drift_formula_ns', 0):.0f} ns",
        f"{jit.get('skipped_windows', 0):.0f}", f"{jit['late_ticks']:.0f}", f"{jit['off_grid']:.0f}"]])
    # Any phase error or any window end off the grid misses the goal.
    met = g.verdict(abs(jit["drift_ns"]) + jit["off_grid"])
    r.goal("7. tick drift over 1000 ticks of 10 ms", f"{jit['drift_ns']:.0f} ns", g.target(), met)
    r.goal("7. tick jitter p99", ns(jit["jitter_p99_us"] * 1e3), "reported", "-")
    r.w(f"Drift zero: {met}. Jitter p99 has no goal; "
        f"{jit['late_ticks']:.0f} deadlines were missed by the sampler in this run.")
    r.w()


def section_go(r, go):
    r.w("### Go (`make bench-go`)")
    r.w()
    rows = []
    for name, units in go.items():
        if "@" in name or name.startswith("BenchmarkSFU"):
            continue  # the parallel and SFU-shaped benches: their own tables
        group = name.split("/")[0]
        peers = [k for k in go if k.split("/")[0] == group and "/baseline-" in k]
        base_name = next((k for k in peers if "/baseline-atomic" in k), peers[0] if peers else None)
        base = go[base_name].get("ns/op") if base_name else None
        extra = ", ".join(f"{fmt_num(v)} {u}" for u, v in units.items() if u != "ns/op")
        t = units.get("ns/op")
        vs = f"{fmt_ratio(ratio(t, base))} of `{base_name.split('/', 1)[1]}`" if base_name else "-"
        rows.append([f"`{name}`", ns(t), vs, extra])
    r.table(["benchmark", "median ns/op", "vs the group's baseline", "other metrics (median)"], rows)
    procs = sorted({int(k.rsplit("@", 1)[1]) for k in go if k.startswith("BenchmarkRecordParallel/")})
    if not procs:
        return
    r.w("`BenchmarkRecordParallel`: GOMAXPROCS goroutines record at once (`b.RunParallel`); ns/op is wall "
        "time per record over all of them, so it falls as they scale. Each on its own track against each "
        "on its own padded word, and all on one track against all on one word.")
    r.w()
    rows = []
    for n in procs:
        def op(case):
            return go.get(f"BenchmarkRecordParallel/{case}@{n}", {}).get("ns/op")
        own, word = op("trackstats-RecordUp-own-track"), op("baseline-atomic-own-word")
        one, oneword = op("trackstats-RecordUp-one-track"), op("baseline-atomic-one-word")
        rows.append([str(n), ns(own), ns(word), fmt_ratio(ratio(own, word)), ns(one), ns(oneword),
                     fmt_ratio(ratio(one, oneword))])
    r.table(["GOMAXPROCS", "own tracks", "own atomic words", "ratio", "one track", "one atomic word", "ratio"], rows)


def section_cpp(r, cpp):
    r.w("### C++ (`make bench-cpp`)")
    r.w()
    cpp = {k: v for k, v in cpp.items() if not k.startswith("SFU/")}  # their own section
    base = next((v for k, v in cpp.items() if "atomic" in k.lower() or "baseline" in k.lower()), None)
    r.table(["benchmark", "median real time", "median CPU time", "vs atomic baseline (real time)"],
            [[f"`{k}`", ns(v[0]), ns(v[1]), fmt_ratio(ratio(v[0], base[0] if base else None))]
             for k, v in cpp.items()])


METRICS_SIZES = [("1k", 1_000), ("100k", 100_000), ("1M", 1_000_000)]


def section_metrics(r):
    """One Collect (cbindings/go/tsprom) and one Produce (cbindings/go/tsotel)
    per size and mode, from `make bench-metrics` (part of bench-go)."""
    g, a = GOALS["collect"], GOALS["allocs_per_track"]
    r.w(f"## 8. Metrics: one Collect and one Produce (goal: aggregates at 1M open tracks in under {g.amount()}, "
        "no allocation per track)")
    r.w()
    go = parse_go(os.path.join(r.results, "bench-go.txt"), r.since)
    if not any(k.startswith(("BenchmarkCollect", "BenchmarkProduce")) for k in go):
        r.w("Not measured in this run.")
        r.w()
        return
    r.w("`make bench-metrics`: a manual registry with that many open Go tracks over 50 countries, 10,000 of "
        "them recorded on and one pass taken, so the figures are published; then one `Collector.Collect` "
        "(tsprom, into a buffered channel, drained) or one `Producer.Produce` (tsotel) per op. Aggregates: "
        "traffic by country and direction, and health; per-track at the limit: also the per-track series, "
        "1000 admitted, and the overflow. Baselines in the same run and group, with as many series as the "
        "trackstats side sends: `Collect` of a client_golang `CounterVec`, and `ManualReader.Collect` of an "
        "OpenTelemetry SDK `Int64Counter`. Medians of 5 runs.")
    r.w()
    rows = []
    for mode, label in [("Aggregates", "aggregates"), ("Tracks", "per-track at the limit")]:
        for size, n in METRICS_SIZES:
            c = go.get(f"BenchmarkCollect{mode}{size}/trackstats", {})
            cb = go.get(f"BenchmarkCollect{mode}{size}/baseline-countervec", {})
            p = go.get(f"BenchmarkProduce{mode}{size}/trackstats", {})
            pb = go.get(f"BenchmarkProduce{mode}{size}/baseline-sdk-counter", {})
            rows.append([label, f"{n:,}", fmt_num(c.get("series", 0)),
                         ns(c.get("ns/op")), fmt_ratio(ratio(c.get("ns/op"), cb.get("ns/op"))),
                         fmt_num(c.get("allocs/op", 0)),
                         ns(p.get("ns/op")), fmt_ratio(ratio(p.get("ns/op"), pb.get("ns/op"))),
                         fmt_num(p.get("allocs/op", 0))])
    r.table(["figures", "open tracks", "series", "Collect", "vs CounterVec", "allocs", "Produce",
             "vs SDK counter", "allocs"], rows)
    for what, name in [("Collect", "BenchmarkCollectAggregates"), ("Produce", "BenchmarkProduceAggregates")]:
        big, small = go.get(f"{name}1M/trackstats", {}), go.get(f"{name}1k/trackstats", {})
        t = big.get("ns/op")
        r.goal(f"8. one {what}, aggregates, 1,000,000 open tracks", ns(t), g.target(), g.verdict(t))
        a1, a2 = small.get("allocs/op"), big.get("allocs/op")
        per = None if a1 is None or a2 is None else max(a2 - a1, 0) / (1_000_000 - 1_000)
        r.goal(f"8. allocations per {what} beyond 1k tracks, per track (aggregates)",
               "-" if per is None else f"{per:g} ({fmt_num(a1)} at 1k, {fmt_num(a2)} at 1M)", a.target(),
               a.verdict(per))
    r.w("Neither side reads a track: the sampler keeps the figures as it takes windows and a read copies the "
        "latest publication, so the cost follows the series sent, not the open tracks.")
    r.w()


def section_bindings(r):
    r.w("## Bindings (Go, C++)")
    r.w()
    r.w(f"The cgo anchor is about {ANCHOR_CGO_NS:.0f} ns per call. Each binding's own bench output, medians over "
        "its repetitions; ratios against the baseline measured in the same run and group.")
    r.w()
    any_binding = False
    go = parse_go(os.path.join(r.results, "bench-go.txt"), r.since)
    if go:
        any_binding = True
        section_go(r, go)
    cpp = parse_gbench(os.path.join(r.results, "bench-cpp.txt"), r.since)
    if cpp:
        any_binding = True
        section_cpp(r, cpp)
    for p in sorted(p for p in glob.glob(os.path.join(r.results, "*.md")) if os.path.getmtime(p) >= r.since):
        any_binding = True
        with open(p) as f:
            r.w(f.read().rstrip())
        r.w()
    if not any_binding:
        r.w("No binding results in this run.")
        r.w()


def section_others(r):
    """Benchmarks no section reads (a new bench file), so nothing measured is left out."""
    others = sorted(k for k in r.crit if k not in r.used)
    if others:
        r.w("## Other benchmarks")
        r.w()
        r.table(["benchmark", "median", "95% interval of the median"],
                [[f"`{k}`", ns(r.crit[k]["median"]), f"{ns(r.crit[k]['lo'])} .. {ns(r.crit[k]['hi'])}"]
                 for k in others])


def section_notes(r, notes_path):
    if notes_path and os.path.exists(notes_path):
        with open(notes_path) as f:
            r.w(f.read().rstrip())
        r.w()


def section_summary(r):
    """The summary table, as lines: every goal the sections checked."""
    s = Report({}, "", 0)
    s.w("## Summary")
    s.w()
    s.w("Each goal, from the sections below.")
    s.w()
    s.table(["goal", "measured", "target", "verdict"], r.summary or [["(nothing measured)", "-", "-", "-"]])
    return s.lines


def section_reproduce(r):
    r.w("## How to reproduce")
    r.w()
    r.w("```sh")
    r.w("make bench                     # every bench (Rust, then Go and C++ where present), then this file")
    r.w("cargo bench --bench record     # one Rust bench; criterion filters work: -- 'tick/active'")
    r.w("cargo bench --bench sfu        # the SFU-shaped Rust bench (bench-go and bench-cpp run the others)")
    r.w("python3 scripts/bench_report.py  # rewrite BENCHMARKS.md from the last results")
    r.w("```")
    r.w()
    r.w("Run on an otherwise idle machine: the two-thread and latency figures are sensitive to other load "
        "on 2 cores.")


def render(crit, results_dir, since, notes_path, m):
    r = Report(crit, results_dir, since)
    r.w("# Benchmarks")
    r.w()
    r.w("Generated by `make bench` (scripts/bench_report.py); do not edit by hand. "
        "Hand-written analysis lives in `benches/notes.md` and is included at the end.")
    r.w()
    section_machine(r, m)
    section_method(r)
    summary_at = len(r.lines)
    section_sfu(r)
    section_sfu_process(r)
    section_record(r)
    section_contention(r)
    section_scaling(r, m)
    section_tick(r)
    section_churn(r)
    section_latency(r)
    section_memory(r)
    section_jitter(r)
    section_metrics(r)
    section_bindings(r)
    section_others(r)
    section_notes(r, notes_path)
    # The summary goes before the sections, once they have all checked their goals.
    r.lines[summary_at:summary_at] = section_summary(r)
    section_reproduce(r)
    return "\n".join(r.lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--criterion", default="target/criterion")
    ap.add_argument("--results", default="target/bench-results")
    ap.add_argument("--since", help="ignore results older than this file's modification time")
    ap.add_argument("--notes", default="benches/notes.md")
    ap.add_argument("--out", default="BENCHMARKS.md")
    ap.add_argument("--write-machine", metavar="FILE",
                    help="only describe this machine into FILE (make bench does, before it measures)")
    a = ap.parse_args()
    since = os.path.getmtime(a.since) if a.since and os.path.exists(a.since) else 0.0
    if a.write_machine:
        with open(a.write_machine, "w") as f:
            json.dump(machine(), f, indent=2)
        print(f"bench_report: wrote {a.write_machine}")
        return
    crit = load_criterion(a.criterion, since)
    if not crit and not glob.glob(os.path.join(a.results, "*.json")):
        sys.exit("bench_report: no results found; run `make bench` (or `cargo bench`) first")
    text = render(crit, a.results, since, a.notes, load_machine(a.results, since))
    with open(a.out, "w") as f:
        f.write(text)
    print(f"bench_report: wrote {a.out} ({len(crit)} criterion results)")


if __name__ == "__main__":
    main()
