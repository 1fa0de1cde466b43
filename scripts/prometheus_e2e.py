#!/usr/bin/env python3
"""A real Prometheus scrapes `make demo`, and its query API must agree with
the demo's ground truth once recording has stopped.

Installs Debian's `prometheus` if it is missing (as root), runs the demo with
--metrics-addr on a free loopback port, starts Prometheus on another with a
1 s scrape interval, waits for the demo's ground-truth file, then polls
`sum by (direction) (trackstats_bytes_total)` (and messages) until it equals
the truth or the deadline passes. Cleans up whatever happens."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "target", "release", "demo")
DEADLINE_S = 90


def find_prometheus():
    for p in ("prometheus", "/usr/bin/prometheus"):
        if shutil.which(p):
            return shutil.which(p)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("prometheus not found: installing Debian's package", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"], check=True, env=env)
        return shutil.which("prometheus")
    sys.exit("error: prometheus is not installed and cannot be (not root or no apt-get): "
             "install Debian's 'prometheus' package")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query_by(port, expr, labels):
    """An instant query's result as {(value of each label, ...): value}."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    return {tuple(x["metric"].get(l, "") for l in labels): int(float(x["value"][1])) for x in body["data"]["result"]}


def query(port, expr):
    return {k[0]: v for k, v in query_by(port, expr, ("direction",)).items()}


def start_prometheus(prom, tmp, job, targets, log):
    """Prometheus on a free loopback port, scraping `targets` every second
    with its data in `tmp`; returns (process, port)."""
    port = free_port()
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: {json.dumps(targets)}
""")
    p = subprocess.Popen(
        [prom, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=open(log, "w"), stderr=subprocess.STDOUT)
    return p, port


def stop(procs):
    """SIGTERM, then SIGKILL after 10 s, for every process still running."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    prom = find_prometheus()
    if not os.path.exists(DEMO):
        sys.exit(f"error: {DEMO} is missing: run `cargo build --release -p trackstats-demo`")
    tmp = tempfile.mkdtemp(prefix="trackstats-prom-")
    procs = []
    try:
        mport = free_port()
        truth_path = os.path.join(tmp, "truth.json")
        demo = subprocess.Popen(
            [DEMO, "--interval-ms", "1000", "--duration-s", "6", "--metrics-addr", f"127.0.0.1:{mport}",
             "--hold-s", str(DEADLINE_S), "--truth-out", truth_path],
            stdout=open(os.path.join(tmp, "demo.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(demo)
        prometheus, pport = start_prometheus(prom, tmp, "trackstats-demo", [f"127.0.0.1:{mport}"],
                                             os.path.join(tmp, "prometheus.log"))
        procs.append(prometheus)

        end = time.time() + DEADLINE_S
        while not os.path.exists(truth_path):
            if demo.poll() is not None:
                sys.exit("error: the demo exited early:\n" + open(os.path.join(tmp, "demo.log")).read())
            if time.time() > end:
                sys.exit("error: the demo never finished recording")
            time.sleep(0.2)
        truth = json.load(open(truth_path))
        if not truth["ok"]:
            sys.exit("error: the demo's own ground-truth check failed")
        want = {
            "bytes": {"incoming": truth["up_bytes"], "outgoing": truth["down_bytes"]},
            "messages": {"incoming": truth["up_messages"], "outgoing": truth["down_messages"]},
        }
        got = {}
        while time.time() < end:
            try:
                got = {k: query(pport, f"sum by (direction) (trackstats_{k}_total)") for k in want}
            except OSError:
                pass  # Prometheus still starting
            if got == want:
                print(f"prometheus e2e: Prometheus scraped {want['bytes']['incoming']:,} bytes incoming and "
                      f"{want['bytes']['outgoing']:,} outgoing, {want['messages']['incoming']:,} + "
                      f"{want['messages']['outgoing']:,} messages: equal to the demo's ground truth. OK")
                return 0
            time.sleep(0.5)
        print(f"error: Prometheus says {got}, ground truth is {want}", file=sys.stderr)
        print(open(os.path.join(tmp, "prometheus.log")).read()[-3000:], file=sys.stderr)
        return 1
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
