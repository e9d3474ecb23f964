"""What the benchmark scripts share: percentiles, a process's memory, a new cache directory, and
fakerek or moto's standalone server started on a free port. (The scripts run from the repository
root, as `python benchmarks/<name>.py`, so this module is importable by its name.)"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from fakerek import config


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def against(value: float, goal: float, unit: str, at_least: bool = False) -> str:
    """A figure's verdict against its goal (issue 21's table), for the line that prints it."""
    met = value >= goal if at_least else value <= goal
    return f"goal {'≥' if at_least else '≤'} {goal:g}{unit}: {'met' if met else 'NOT met'}"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def seeded_cache_dir(folder: str) -> str:
    """A new cache directory in `folder` with the int8 graphs of the default one, when it has
    them: no finished training, no detection from an earlier run (every image is first-seen)."""
    cache_dir = os.path.join(folder, "cache")
    os.makedirs(cache_dir)
    graphs = glob.glob(os.path.join(config.Settings().cache_dir, "*.int8.onnx"))
    for graph in graphs:
        shutil.copy(graph, cache_dir)
    if not graphs:
        print("(no int8 graphs in the default cache directory: the first run derives them)")
    return cache_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is serving
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start(kind: str, port: int, data_dir: str, *args: str) -> tuple[subprocess.Popen, float]:
    """`fakerek serve` (with `args`) or moto's standalone server; (process, seconds from spawn
    to its first HTTP answer)."""
    if kind == "fakerek":
        command = [
            sys.executable,
            "-m",
            "fakerek",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            data_dir,
            "--log-level",
            "warning",
            *args,
        ]
        url = f"http://127.0.0.1:{port}/_fakerek/health"
    else:
        command = [sys.executable, "-m", "moto.server", "-p", str(port)]
        url = f"http://127.0.0.1:{port}/moto-api/"
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(url)
    return process, time.perf_counter() - began


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(60)
