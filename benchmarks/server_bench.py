"""Server core benchmark: fakerek against moto's server, side by side, on this machine.

Prints
  * cold start to healthy (process spawn → first successful HTTP answer), median of several runs;
  * boto3 round trip p50/p99 of DescribeProjects on 100 projects (fakerek) and of
    DetectCustomLabels (moto's cheapest Rekognition call, a canned answer);
  * fakerek's server-side p50/p99 for the same calls, read from its Server-Timing header.

Goals (issue 2): cold start <= 1.5 s, our p50 <= moto's, server-side p50 <= 1 ms.
Run: python benchmarks/server_bench.py [--calls 500] [--starts 5]
Needs the `bench` extra (moto[server]).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import boto3
from botocore.config import Config
from measure import against, free_port, pct, start, stop

VERSION_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1700000000000"


def client(port: int):
    return boto3.session.Session().client(
        "rekognition",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def timed_calls(call, count: int) -> tuple[list[float], list[float]]:
    """Round-trip and server-side (Server-Timing, when present) milliseconds per call."""
    for _ in range(20):
        call()
    round_trips, server_side = [], []
    for _ in range(count):
        began = time.perf_counter()
        response = call()
        round_trips.append((time.perf_counter() - began) * 1000)
        timing = response["ResponseMetadata"]["HTTPHeaders"].get("server-timing", "")
        if "dur=" in timing:
            server_side.append(float(timing.split("dur=")[1]))
    return round_trips, server_side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()

    starts: dict[str, list[float]] = {"fakerek": [], "moto": []}
    for _ in range(args.starts):
        for kind in starts:
            with tempfile.TemporaryDirectory() as data_dir:
                process, seconds = start(kind, free_port(), os.path.join(data_dir, "d"))
                stop(process)
                starts[kind].append(seconds)

    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        ours, _ = start("fakerek", port, os.path.join(data_dir, "d"))
        try:
            rekognition = client(port)
            for i in range(100):
                rekognition.create_project(ProjectName=f"project-{i:03d}")
            assert len(rekognition.describe_projects()["ProjectDescriptions"]) == 100
            ours_rt, ours_server = timed_calls(rekognition.describe_projects, args.calls)
            one_rt, one_server = timed_calls(
                lambda: rekognition.describe_projects(ProjectNames=["project-000"]), args.calls
            )
        finally:
            stop(ours)

    port = free_port()
    moto, _ = start("moto", port, "")
    try:
        rekognition = client(port)
        image = {"Bytes": b"\xff\xd8\xff" + b"\0" * 1000}
        moto_rt, _ = timed_calls(
            lambda: rekognition.detect_custom_labels(ProjectVersionArn=VERSION_ARN, Image=image),
            args.calls,
        )
    finally:
        stop(moto)

    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"{args.calls} calls, {args.starts} cold starts each"
    )
    print(f"{'':44}{'fakerek':>12}{'moto_server':>14}")
    print(
        f"{'cold start to healthy, median (s)':44}{statistics.median(starts['fakerek']):>12.3f}"
        f"{statistics.median(starts['moto']):>14.3f}"
    )
    print(f"{'round trip p50 (ms) [ours: DescribeProjects':44}")
    print(
        f"{'  on 100 projects; moto: DetectCustomLabels]':44}{pct(ours_rt, 50):>12.2f}"
        f"{pct(moto_rt, 50):>14.2f}"
    )
    print(f"{'round trip p99 (ms)':44}{pct(ours_rt, 99):>12.2f}{pct(moto_rt, 99):>14.2f}")
    print(
        f"{'server-side p50 / p99 (ms)':44}"
        f"{pct(ours_server, 50):>6.3f} / {pct(ours_server, 99):.3f}{'n/a':>9}"
    )
    print("like for like, one item in each answer (ours: DescribeProjects filtered to 1 project)")
    print(
        f"{'round trip p50 / p99 (ms)':44}{pct(one_rt, 50):>5.2f} / {pct(one_rt, 99):.2f}"
        f"{pct(moto_rt, 50):>7.2f} / {pct(moto_rt, 99):.2f}"
    )
    print(
        f"{'server-side p50 / p99 (ms)':44}"
        f"{pct(one_server, 50):>6.3f} / {pct(one_server, 99):.3f}{'n/a':>9}"
    )
    ratio = pct(moto_rt, 50) / pct(one_rt, 50)
    print(
        f"DescribeProjects (1 project) server-side p50 {pct(one_server, 50):.3f} ms, "
        f"{against(pct(one_server, 50), 0.2, ' ms')}; round trip {ratio:.1f}x moto's, "
        f"{against(ratio, 2, 'x', at_least=True)}"
    )


if __name__ == "__main__":
    main()
