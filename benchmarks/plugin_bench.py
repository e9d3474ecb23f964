"""The pytest plugin's two modes: how long the session's server takes to start, and what it
costs in memory, each run in a fresh interpreter as a test session would.

    python benchmarks/plugin_bench.py [--runs 7] [--xdist]

For each mode: the first start in a process (which, in-process, imports fakerek's application:
Flask, the operations, botocore's loaders; a test process that uses boto3 has imported botocore
already, and so has this one) until `/_fakerek/health` answers; a second start in the same
process (a restart, or a second server); the server's resident memory (in-process: what the
start added to the test process); and the median DescribeProjects round trip through boto3 (in
process, client and server share one interpreter). With --xdist, also the example suite's wall
time serially and under `pytest -n 4` (a server per worker), in both modes. Prints figures,
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, os, time, urllib.request
import boto3  # a test session that uses the `rekognition` fixture has it imported
from fakerek.testing import FakerekServer

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

def start(mode):
    began = time.perf_counter()
    server = FakerekServer(mode=mode).start()
    urllib.request.urlopen(server.endpoint + "/_fakerek/health", timeout=30).read()
    return server, time.perf_counter() - began

mode = os.environ["PROBE_MODE"]
before = rss_kb(os.getpid())
server, first = start(mode)
client = server.client()
client.describe_projects()
rss = rss_kb(server.pid) - (before if mode == "in-process" else 0)
calls = []
for _ in range(200):
    began = time.perf_counter()
    client.describe_projects()
    calls.append(time.perf_counter() - began)
server.close()
server, second = start(mode)
server.close()
call_ms = sorted(calls)[len(calls) // 2] * 1000
print(json.dumps({"first": first, "second": second, "rss_mb": rss / 1024, "call_ms": call_ms}))
"""


def example_suite(*args: str) -> float:
    """Seconds `pytest examples ARGS` takes, start to end, from the repository's root."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--xdist", action="store_true")
    options = parser.parse_args()
    runs = options.runs
    with open("/proc/loadavg") as load:
        print(f"load average at the start: {load.read().split()[0]}")
    for mode in ("subprocess", "in-process"):
        found = []
        for _ in range(runs):
            done = subprocess.run(
                [sys.executable, "-c", PROBE],
                env={**os.environ, "PROBE_MODE": mode},
                capture_output=True,
                text=True,
                check=True,
            )
            found.append(json.loads(done.stdout))
        for key, unit, scale in (
            ("first", "s", 1),
            ("second", "s", 1),
            ("rss_mb", "MB", 1),
            ("call_ms", "ms", 1),
        ):
            values = sorted(run[key] * scale for run in found)
            print(
                f"{mode:<11} {key:<7} median {statistics.median(values):7.3f} {unit}   "
                f"min {values[0]:7.3f}   max {values[-1]:7.3f}"
            )
    if options.xdist:
        for mode in ("subprocess", "in-process"):
            serial = example_suite("--fakerek-mode", mode)
            parallel = example_suite("--fakerek-mode", mode, "-n", "4")
            print(f"{mode:<11} example suite: serial {serial:5.1f} s, -n 4 {parallel:5.1f} s")
    with open("/proc/loadavg") as load:
        print(f"load average at the end: {load.read().split()[0]}")


if __name__ == "__main__":
    main()
