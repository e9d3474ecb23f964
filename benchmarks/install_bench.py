"""What an install weighs: `pip install .` time (warm pip cache) and the virtual environment's
size, in a fresh venv, for the server alone and with the test extra; and what the fresh venv
weighed before (pip, and setuptools before Python 3.12), which is not fakerek's.

    python benchmarks/install_bench.py

Prints figures, asserts nothing. Run it twice to measure with a warm cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from measure import against

ROOT = Path(__file__).resolve().parent.parent


def size_mb(folder: Path) -> float:
    total = 0
    for base, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(base, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total / 1024**2


def measure(target: str) -> tuple[float, float, float]:
    """Seconds to install `target`, and the venv's size in MB before and after."""
    with tempfile.TemporaryDirectory(prefix="fakerek-install-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        empty = size_mb(env_dir)
        python = str(env_dir / "bin" / "python")
        started = time.perf_counter()
        done = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", target],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.exit(f"pip install {target} failed:\n{done.stderr}")
        elapsed = time.perf_counter() - started
        return elapsed, empty, size_mb(env_dir)


def main() -> None:
    print(f"python {sys.version.split()[0]}")
    for label, target in (("pip install .", "."), ('pip install ".[test]"', ".[test]")):
        seconds, empty, megabytes = measure(target)
        print(
            f"{label:<24} {seconds:6.1f} s   venv {megabytes:6.0f} MB "
            f"(of which {empty:.0f} MB before the install)"
            + (f", {against(megabytes, 300, ' MB')}" if target == "." else "")
        )


if __name__ == "__main__":
    main()
