#!/usr/bin/env python3
"""A fleet of three Go SFU processes on one real Prometheus (issue 18).

A publisher's data track flows home -> relay -> edge over loopback TCP
(cbindings/go/tsprom/internal/fleetnode): the home node counts the
publisher's bytes (UPSTREAM) and its subscriber S1's (DOWNSTREAM); the relay
holds the relayed copy as a nil track and counts S2; the edge, a nil copy
too, counts S3 and S4. Each node serves its figures through the tsprom
collector under its node_id (prometheus.WrapRegistererWith) and writes what
it recorded; Debian's prometheus (installed if missing) scrapes all three
every second. Then, through Prometheus' query API:

  sum by (direction) (trackstats_bytes_total)           == the fleet's truth,
      the relayed bytes counted once (incoming = what the publisher sent);
  sum by (node_id, direction) (trackstats_bytes_total)  == each node's truth;

and the same for trackstats_messages_total. The nodes exit by themselves
when their standard input closes (or after their -hold); every port is on
the loopback. Usage: fleet_e2e.py NODE_BINARY"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prometheus_e2e import find_prometheus, free_port, query_by, start_prometheus, stop  # noqa: E402

DEADLINE_S = 120
MESSAGES = 20000
NODES = [
    # node, its local subscribers (participant:country)
    ("home", "PA_s1:DE"),
    ("relay", "PA_s2:US"),
    ("edge", "PA_s3:JP,PA_s4:"),
]


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: fleet_e2e.py NODE_BINARY (built from cbindings/go/tsprom/internal/fleetnode)")
    binary = sys.argv[1]
    prom = find_prometheus()
    tmp = tempfile.mkdtemp(prefix="trackstats-fleet-")
    nodes, procs = {}, []
    try:
        data = {n: f"127.0.0.1:{free_port()}" for n, _ in NODES}
        order = [n for n, _ in NODES]
        # Listeners first: the edge, the relay, then the home node dials.
        for name, subs in reversed(NODES):
            i = order.index(name)
            metrics = f"127.0.0.1:{free_port()}"
            args = [binary, "-node", name, "-metrics", metrics, "-subscribers", subs,
                    "-messages", str(MESSAGES), "-truth", os.path.join(tmp, f"{name}.json"),
                    "-hold", f"{DEADLINE_S + 30}s"]
            if name != "home":
                args += ["-listen", data[name]]
            if i + 1 < len(order):
                args += ["-next", data[order[i + 1]]]
            p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=open(os.path.join(tmp, f"{name}.log"), "w"),
                                 stderr=subprocess.STDOUT)
            nodes[name] = (p, metrics)
            procs.append(p)
        prometheus, pport = start_prometheus(prom, tmp, "trackstats-fleet", [m for _, m in nodes.values()],
                                             os.path.join(tmp, "prometheus.log"))
        procs.append(prometheus)

        end = time.time() + DEADLINE_S
        truth = {}
        while len(truth) < len(nodes):
            for name, (p, _) in nodes.items():
                path = os.path.join(tmp, f"{name}.json")
                if name not in truth and os.path.exists(path):
                    try:
                        truth[name] = json.load(open(path))
                    except ValueError:
                        pass  # still being written
                if p.poll() is not None and name not in truth:
                    sys.exit(f"error: node {name} exited early:\n" + open(os.path.join(tmp, f"{name}.log")).read())
            if time.time() > end:
                sys.exit(f"error: only {sorted(truth)} finished")
            time.sleep(0.1)

        want_fleet, want_nodes = {}, {}
        for kind in ("bytes", "messages"):
            fleet = {"incoming": 0, "outgoing": 0}
            for name, t in truth.items():
                for d, field in (("incoming", f"up_{kind}"), ("outgoing", f"down_{kind}")):
                    fleet[d] += t[field]
                    want_nodes[(kind, name, d)] = t[field]
            want_fleet[kind] = fleet
        home = truth["home"]
        assert home["down_bytes"] == home["up_bytes"] > 0, "the home node forwards what it gets"
        assert want_fleet["bytes"]["outgoing"] == 4 * want_fleet["bytes"]["incoming"], "four subscribers"

        got_fleet, got_nodes = {}, {}
        while time.time() < end:
            try:
                got_fleet = {k: {d: v for (d,), v in query_by(pport, f"sum by (direction) (trackstats_{k}_total)",
                                                               ("direction",)).items()} for k in ("bytes", "messages")}
                got_nodes = {}
                for k in ("bytes", "messages"):
                    r = query_by(pport, f"sum by (node_id, direction) (trackstats_{k}_total)", ("node_id", "direction"))
                    got_nodes.update({(k, n, d): v for (n, d), v in r.items()})
            except OSError:
                pass  # Prometheus still starting
            nodes_match = all(got_nodes.get(k, 0) == v for k, v in want_nodes.items()) and \
                set(k for k, v in got_nodes.items() if v) <= set(want_nodes)
            if got_fleet == want_fleet and nodes_match:
                report(want_fleet, want_nodes, got_fleet, got_nodes)
                return 0
            time.sleep(0.5)
        report(want_fleet, want_nodes, got_fleet, got_nodes)
        print("error: Prometheus never agreed with the fleet's ground truth", file=sys.stderr)
        print(open(os.path.join(tmp, "prometheus.log")).read()[-3000:], file=sys.stderr)
        return 1
    finally:
        for p, _ in nodes.values():
            if p.stdin and not p.stdin.closed:
                p.stdin.close()  # the nodes' cue to exit by themselves
        for p, _ in nodes.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print("error: a node did not exit by itself", file=sys.stderr)
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def report(want_fleet, want_nodes, got_fleet, got_nodes):
    print("fleet e2e: PromQL against the fleet's ground truth (3 nodes, one Prometheus)")
    for k in ("bytes", "messages"):
        for d in ("incoming", "outgoing"):
            print(f"  sum by (direction) (trackstats_{k}_total){{direction={d!r}}}: "
                  f"{got_fleet.get(k, {}).get(d, 0):,} (truth {want_fleet[k][d]:,})")
    for (k, n, d), w in sorted(want_nodes.items()):
        print(f"  sum by (node_id, direction) (trackstats_{k}_total){{node_id={n!r}, direction={d!r}}}: "
              f"{got_nodes.get((k, n, d), 0):,} (truth {w:,})")


if __name__ == "__main__":
    sys.exit(main())
