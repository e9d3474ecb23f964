"""Soak and crash: fakerek under a long mixed load, then killed at random moments.

Prints
  * for a mixed load at 8 client threads (control plane, dataset pages, dataset updates, S3,
    detections): calls/s, p50/p99 per operation, errors, the server's RSS slope after warm-up
    (goal < 1 MiB/min) and its open file descriptors;
  * for a kill-restart loop (SIGKILL at random moments, during imports and trainings too):
    acknowledged writes lost (goal 0) and resources stuck in progress after a restart (goal 0).

Run: python benchmarks/soak_bench.py [--minutes 5] [--threads 8] [--kills 20]
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from images import scene  # noqa: E402
from manifests import image_line, manifest  # noqa: E402
from measure import rss_mb  # noqa: E402

from fakerek.testing import FakerekServer  # noqa: E402

BUCKET = "soak"


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def prepare(server: FakerekServer, images: int = 24) -> dict[str, str]:
    """A bucket of images, a project whose TRAIN dataset holds them, a running model."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    lines = []
    for i in range(images):
        label = ("circle", "square", "triangle")[i % 3]
        s3.put_object(Bucket=BUCKET, Key=f"{i}.jpg", Body=scene(900 + i, [label])[0])
        lines.append(image_line(f"{i}.jpg", label, bucket=BUCKET))
    s3.put_object(Bucket=BUCKET, Key="train.manifest", Body=manifest(lines))
    client = server.client()
    project = client.create_project(ProjectName="soak")["ProjectArn"]
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "train.manifest"}}}
    dataset = client.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source)[
        "DatasetArn"
    ]
    version = client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "o"}
    )["ProjectVersionArn"]
    client.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=["v1"]
    )
    client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    client.get_waiter("project_version_running").wait(ProjectArn=project, VersionNames=["v1"])
    return {"project": project, "dataset": dataset, "version": version}


def soak(server: FakerekServer, minutes: float, threads: int) -> None:
    arns = prepare(server)
    image = scene(42, ["circle"])[0]
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)  # 5xx, connection errors: failures
    refused: dict[str, int] = defaultdict(int)  # 4xx the model lists (e.g. a dataset updating)
    lock = threading.Lock()
    stop = threading.Event()

    def worker(number: int) -> None:
        client, s3 = server.client(), server.client("s3")
        rng = random.Random(number)
        counter = 0
        calls = {
            "CreateProject+Delete": lambda: client.delete_project(
                ProjectArn=client.create_project(ProjectName=f"w{number}-{counter}")["ProjectArn"]
            ),
            "DescribeProjects": lambda: client.describe_projects(),
            "TagResource": lambda: client.tag_resource(
                ResourceArn=arns["project"], Tags={f"k{number}": str(counter)}
            ),
            "ListDatasetEntries": lambda: client.list_dataset_entries(
                DatasetArn=arns["dataset"], MaxResults=10
            ),
            "UpdateDatasetEntries": lambda: client.update_dataset_entries(
                DatasetArn=arns["dataset"],
                Changes={
                    "GroundTruth": json.dumps(
                        image_line(f"{counter % 24}.jpg", "circle", bucket=BUCKET)
                    ).encode()
                },
            ),
            "DescribeDataset": lambda: client.describe_dataset(DatasetArn=arns["dataset"]),
            "S3 PutObject": lambda: s3.put_object(
                Bucket=BUCKET, Key=f"load/{number}/{counter % 50}", Body=os.urandom(20_000)
            ),
            "S3 GetObject": lambda: s3.get_object(Bucket=BUCKET, Key="0.jpg")["Body"].read(),
            "DetectCustomLabels": lambda: client.detect_custom_labels(
                ProjectVersionArn=arns["version"], Image={"Bytes": image}
            ),
        }
        names = list(calls)
        while not stop.is_set():
            counter += 1
            name = rng.choice(names)
            began = time.perf_counter()
            try:
                calls[name]()
                outcome = "ok"
            except ClientError as error:
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                outcome = "refused" if status < 500 else "error"
                failure: Exception = error
            except Exception as error:  # connection errors and the like
                outcome, failure = "error", error
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                if outcome == "ok":
                    timings[name].append(elapsed)
                elif outcome == "refused":
                    refused[name] += 1
                else:
                    if not errors[name]:
                        print(f"  first error in {name}: {failure}")
                    errors[name] += 1

    samples: list[tuple[float, float]] = []
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    while time.monotonic() - started < minutes * 60:
        time.sleep(5)
        samples.append((time.monotonic() - started, rss_mb(server.pid)))
    stop.set()
    for thread in pool:
        thread.join(60)
    seconds = time.monotonic() - started
    total = sum(len(v) for v in timings.values())
    print(
        f"mixed load, {threads} client threads, {seconds:.0f} s: {total / seconds:.0f} calls/s, "
        f"{sum(errors.values())} errors (5xx or no answer), {sum(refused.values())} modeled "
        "refusals (4xx, e.g. an update while the dataset is updating)"
    )
    print(f"{'operation':28}{'calls':>8}{'p50 ms':>10}{'p99 ms':>10}{'4xx':>7}{'errors':>8}")
    for name in sorted(timings.keys() | errors.keys() | refused.keys()):
        values = sorted(timings[name]) or [0.0]
        p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
        print(
            f"{name:28}{len(timings[name]):>8}{statistics.median(values):>10.2f}{p99:>10.2f}"
            f"{refused[name]:>7}{errors[name]:>8}"
        )
    warm = [(t, r) for t, r in samples if t >= min(60.0, seconds / 3)]
    if len(warm) >= 2:
        mean_t = statistics.fmean(t for t, _ in warm)
        mean_r = statistics.fmean(r for _, r in warm)
        slope = sum((t - mean_t) * (r - mean_r) for t, r in warm) / sum(
            (t - mean_t) ** 2 for t, _ in warm
        )
        print(
            f"RSS {warm[0][1]:.0f} -> {warm[-1][1]:.0f} MB after warm-up: slope "
            f"{slope * 60:.2f} MiB/min (goal < 1); open fds {open_fds(server.pid)}"
        )


def kill_loop(data_dir: str, kills: int) -> None:
    """Writers create projects (with tags), datasets and trainings; the server is SIGKILLed at
    random moments; every acknowledged write must be there after the restart, and nothing may
    stay in progress."""
    rng = random.Random(7)
    acknowledged: dict[str, str] = {}  # name -> kind
    server = FakerekServer(data_dir).start()
    s3 = server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    lines = []
    for i in range(12):
        label = ("circle", "square", "triangle")[i % 3]
        s3.put_object(Bucket=BUCKET, Key=f"{i}.jpg", Body=scene(700 + i, [label])[0])
        lines.append(image_line(f"{i}.jpg", label, bucket=BUCKET))
    s3.put_object(Bucket=BUCKET, Key="train.manifest", Body=manifest(lines))
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "train.manifest"}}}
    lost = stuck = 0
    for round_ in range(kills):
        stop = threading.Event()

        def writer(number: int, stop: threading.Event = stop, round_: int = round_) -> None:
            client = server.client()
            for i in range(10_000):
                if stop.is_set():
                    return
                name = f"r{round_}-w{number}-{i}"
                try:
                    arn = client.create_project(ProjectName=name, Tags={"n": name})["ProjectArn"]
                    acknowledged[name] = "project"
                    if i % 3 == 0:
                        client.create_dataset(
                            ProjectArn=arn, DatasetType="TRAIN", DatasetSource=source
                        )
                        acknowledged[name] = "dataset"
                    if i % 9 == 0:
                        client.create_project_version(
                            ProjectArn=arn, VersionName="v", OutputConfig={"S3Bucket": BUCKET}
                        )
                        acknowledged[name] = "version"
                except Exception:
                    return  # the server died under us: that call was never acknowledged

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.2, 2.5))
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(30)
        server.start()
        client = server.client(max_attempts=3)
        found: dict[str, dict[str, Any]] = {}
        for page in client.get_paginator("describe_projects").paginate():
            for project in page["ProjectDescriptions"]:
                found[project["ProjectArn"].split("/")[1]] = project
        for name, kind in acknowledged.items():
            project = found.get(name)
            if project is None:
                lost += 1
                continue
            if kind in ("dataset", "version") and not project["Datasets"]:
                lost += 1
            for dataset in project["Datasets"]:
                if dataset["Status"].endswith("IN_PROGRESS"):
                    stuck += 1
            if kind == "version":
                versions = client.describe_project_versions(ProjectArn=project["ProjectArn"])
                described = versions["ProjectVersionDescriptions"]
                if not described:
                    lost += 1
                stuck += sum(v["Status"].endswith("IN_PROGRESS") for v in described)
        print(
            f"  kill {round_ + 1}: {len(acknowledged)} acknowledged so far, lost {lost}, "
            f"stuck {stuck}"
        )
    server.close()
    print(
        f"kill-restart loop: {kills} SIGKILLs, {len(acknowledged)} acknowledged writes; "
        f"lost {lost} (goal 0), stuck in progress {stuck} (goal 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with (
        tempfile.TemporaryDirectory(prefix="soak-") as tmp,
        FakerekServer(
            os.path.join(tmp, "data"), args=["--log-level", "warning", "--threads", "16"]
        ) as server,
    ):
        soak(server, args.minutes, args.threads)
    with tempfile.TemporaryDirectory(prefix="kills-") as tmp:
        kill_loop(os.path.join(tmp, "data"), args.kills)


if __name__ == "__main__":
    main()
