"""The embedded S3 with users' data at scale, against moto's standalone server.

Prints
  * start to healthy and server RSS with many stored objects (default 20,000 × 100 KB = 2 GB);
  * RSS growth over 15,000 PUTs overwriting the same 8 keys (20 KB bodies);
  * PUT and GET of a 1 MB object, boto3 round trip p50/p95, fakerek and moto_server side by side.

Goals (issue 10): start ≤ 3 s and RSS ≤ 300 MB with 2 GB stored; overwrites grow RSS < 20 MB;
1 MB PUT and GET p50 within 1.5× of moto's server. Asserts nothing.

Run: python benchmarks/s3_bench.py [--objects 20000] [--object-kb 100] [--overwrites 15000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from measure import free_port, pct, rss_mb, start, stop


def client(port: int):  # noqa: ANN201 - a boto3 client
    return boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 3}, max_pool_connections=32),
    )


def fill(port: int, count: int, size: int) -> float:
    s3 = client(port)
    s3.create_bucket(Bucket="data")
    body = os.urandom(size)
    began = time.perf_counter()

    def put(i: int) -> None:
        # each object differs (its own blob), as users' images do
        s3.put_object(Bucket="data", Key=f"images/{i:06d}.jpg", Body=i.to_bytes(8) + body[8:])

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))
    return time.perf_counter() - began


def put_get_1mb(port: int, calls: int) -> tuple[list[float], list[float]]:
    s3 = client(port)
    s3.create_bucket(Bucket="latency")
    body = os.urandom(1024 * 1024)
    puts, gets = [], []
    for i in range(calls + 10):
        began = time.perf_counter()
        s3.put_object(Bucket="latency", Key=f"k{i % 20}", Body=body)
        put_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        s3.get_object(Bucket="latency", Key=f"k{i % 20}")["Body"].read()
        get_ms = (time.perf_counter() - began) * 1000
        if i >= 10:  # warm-up
            puts.append(put_ms)
            gets.append(get_ms)
    return puts, gets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--object-kb", type=int, default=100)
    parser.add_argument("--overwrites", type=int, default=15_000)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")

    with tempfile.TemporaryDirectory(prefix="s3-bench-") as tmp:
        data_dir = os.path.join(tmp, "data")
        port = free_port()
        server, _ = start("fakerek", port, data_dir, "--threads", "16")
        try:
            seconds = fill(port, args.objects, args.object_kb * 1024)
            stored_gb = args.objects * args.object_kb / 1024**2
            print(
                f"stored {args.objects} objects ({stored_gb:.2f} GB) in {seconds:.1f} s "
                f"({args.objects / seconds:.0f} PUT/s, 16 client threads); "
                f"server RSS {rss_mb(server.pid):.0f} MB"
            )
        finally:
            stop(server)
        starts, ready, rss = [], [], []
        for _ in range(3):
            began = time.perf_counter()
            server, seconds = start("fakerek", port, data_dir, "--threads", "16")
            starts.append(seconds)
            keys = client(port).list_objects_v2(Bucket="data", MaxKeys=10)["KeyCount"]
            ready.append(time.perf_counter() - began)  # S3 answers once its index is replayed
            assert keys == 10
            rss.append(rss_mb(server.pid))
            if len(starts) < 3:
                stop(server)
        print(
            f"start with them: healthy after {statistics.median(starts):.2f} s, first S3 listing "
            f"after {statistics.median(ready):.2f} s (goal <= 3 s, medians of 3); RSS "
            f"{statistics.median(rss):.0f} MB (goal <= 300)"
        )
        try:
            s3 = client(port)
            s3.create_bucket(Bucket="churn")
            body = os.urandom(20 * 1024)
            for i in range(500):  # warm-up
                s3.put_object(Bucket="churn", Key=f"k{i % 8}", Body=body)
            before = rss_mb(server.pid)
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda i: s3.put_object(Bucket="churn", Key=f"k{i % 8}", Body=body),
                        range(args.overwrites),
                    )
                )
            after = rss_mb(server.pid)
            print(
                f"{args.overwrites} overwrites of 8 keys: RSS {before:.0f} -> {after:.0f} MB "
                f"(+{after - before:.1f} MB, goal < 20)"
            )
        finally:
            stop(server)

    results = {}
    for kind in ("fakerek", "moto"):
        with tempfile.TemporaryDirectory(prefix="s3-bench-") as tmp:
            port = free_port()
            server, _ = start(kind, port, os.path.join(tmp, "data"))
            try:
                results[kind] = put_get_1mb(port, args.calls)
            finally:
                stop(server)
    print(
        f"{'1 MB object, boto3 round trip (ms)':40}{'fakerek':>12}{'moto_server':>14}{'ratio':>8}"
    )
    for index, name in ((0, "PUT"), (1, "GET")):
        ours, moto = results["fakerek"][index], results["moto"][index]
        for q in (50, 95):
            print(
                f"{name + f' p{q}':40}{pct(ours, q):>12.2f}{pct(moto, q):>14.2f}"
                f"{pct(ours, q) / pct(moto, q):>8.2f}"
            )


if __name__ == "__main__":
    main()
