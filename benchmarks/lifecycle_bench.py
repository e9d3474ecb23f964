"""The whole lifecycle through boto3, timed, in two scenarios, each cold and as a CI rerun:

* `bench`: this script's own lifecycle — project, 100-image dataset (auto-split), train, start,
  100 detections, stop, delete. Goal: ≤ 2.5 s cold (issue 14).
* `user`: a lifecycle as a user's test writes it (issue 21) — 100 training and 30 test images of
  320 px put in S3 with their manifests, CreateProjectVersion from them, the training waiter with
  `Delay: 1`, start, 100 DetectCustomLabels, stop, delete. Goals: ≤ 2.5 s cold, ≤ 1.0 s rerun.

Cold: a new data directory and a new cache directory holding only the int8 backbone graphs
(copied from the default cache directory when they are there; otherwise the first run derives
them, which the figure then includes): the training computes everything. Rerun: a new server on
another new data directory with the same cache directory, as a CI job reruns a suite on the next
commit: the training finds its outcome in the model cache. Server start is excluded; every image
a detection sends is new to the server.

Run: python benchmarks/lifecycle_bench.py [--scenario bench|user|both] [--runs N]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np
from measure import seeded_cache_dir
from PIL import Image, ImageDraw, ImageFilter

from fakerek.testing import FakerekServer

SHAPES = ("circle", "square", "triangle")
BUCKET = "lifecycle"
GOALS = {("bench", "cold"): 2.5, ("user", "cold"): 2.5, ("user", "rerun"): 1.0}
Marks = list[tuple[str, float]]


def picture(seed: int, shape: str) -> bytes:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (31, 41, 3), dtype=np.uint8)
    image = Image.fromarray(noise).resize((320, 240)).filter(ImageFilter.GaussianBlur(2))
    side = int(rng.integers(60, 110))
    left, top = int(rng.integers(0, 320 - side)), int(rng.integers(0, 240 - side))
    box = (left, top, left + side, top + side)
    colour = tuple(int(c) for c in rng.integers(30, 255, 3))
    pen = ImageDraw.Draw(image)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    else:
        pen.polygon(
            [((box[0] + box[2]) // 2, box[1]), (box[2], box[3]), (box[0], box[3])], fill=colour
        )
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def line(key: str, shape: str) -> str:
    return json.dumps(
        {
            "source-ref": f"s3://{BUCKET}/{key}",
            "shape": 0,
            "shape-metadata": {
                "class-name": shape,
                "confidence": 1,
                "human-annotated": "yes",
                "type": "groundtruth/image-classification",
                "creation-date": "2024-01-01T00:00:00",
            },
        }
    )


def detect(rekognition, version: str, probes: list[bytes]) -> int:
    """The 100 detections; how many gave the right shape first."""
    right = 0
    for i, data in enumerate(probes):
        labels = rekognition.detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": data}, MinConfidence=0
        )["CustomLabels"]
        right += bool(labels) and labels[0]["Name"] == SHAPES[i % 3]
    return right


def bench_lifecycle(server: FakerekServer, mark: Callable[[str], None]) -> int:
    rekognition, s3 = server.client(), server.client("s3")
    images = [(SHAPES[i % 3], picture(i, SHAPES[i % 3])) for i in range(100)]
    probes = [picture(10_000 + i, SHAPES[i % 3]) for i in range(100)]
    mark("")
    s3.create_bucket(Bucket=BUCKET)
    lines = []
    for i, (shape, data) in enumerate(images):
        s3.put_object(Bucket=BUCKET, Key=f"img/{i}.jpg", Body=data)
        lines.append(line(f"img/{i}.jpg", shape))
    s3.put_object(Bucket=BUCKET, Key="train.manifest", Body="\n".join(lines))
    mark("upload 100 images")
    project = rekognition.create_project(ProjectName="lifecycle")["ProjectArn"]
    dataset = rekognition.create_dataset(
        ProjectArn=project,
        DatasetType="TRAIN",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "train.manifest"}}
        },
    )["DatasetArn"]
    rekognition.describe_dataset(DatasetArn=dataset)
    mark("project + dataset")
    version = rekognition.create_project_version(
        ProjectArn=project,
        VersionName="v1",
        OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "out"},
    )["ProjectVersionArn"]
    rekognition.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=["v1"]
    )
    mark("train")
    rekognition.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    rekognition.get_waiter("project_version_running").wait(ProjectArn=project, VersionNames=["v1"])
    mark("start")
    right = detect(rekognition, version, probes)
    mark("100 detections")
    rekognition.stop_project_version(ProjectVersionArn=version)
    rekognition.delete_project_version(ProjectVersionArn=version)
    rekognition.delete_dataset(DatasetArn=dataset)
    rekognition.delete_project(ProjectArn=project)
    assert rekognition.describe_projects()["ProjectDescriptions"] == []
    mark("stop + delete")
    return right


def user_lifecycle(server: FakerekServer, mark: Callable[[str], None]) -> int:
    rekognition, s3 = server.client(), server.client("s3")
    train = [(SHAPES[i % 3], picture(i, SHAPES[i % 3])) for i in range(100)]
    test = [(SHAPES[i % 3], picture(5_000 + i, SHAPES[i % 3])) for i in range(30)]
    probes = [picture(10_000 + i, SHAPES[i % 3]) for i in range(100)]
    mark("")
    s3.create_bucket(Bucket=BUCKET)
    for name, images in (("train", train), ("test", test)):
        lines = []
        for i, (shape, data) in enumerate(images):
            s3.put_object(Bucket=BUCKET, Key=f"{name}/{i}.jpg", Body=data)
            lines.append(line(f"{name}/{i}.jpg", shape))
        s3.put_object(Bucket=BUCKET, Key=f"{name}.manifest", Body="\n".join(lines))
    mark("upload 100 + 30 images")
    project = rekognition.create_project(ProjectName="shapes")["ProjectArn"]

    def asset(name: str) -> dict:
        manifest = {"S3Object": {"Bucket": BUCKET, "Name": f"{name}.manifest"}}
        return {"Assets": [{"GroundTruthManifest": manifest}]}

    version = rekognition.create_project_version(
        ProjectArn=project,
        VersionName="v1",
        OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "output/"},
        TrainingData=asset("train"),
        TestingData=asset("test"),
    )["ProjectVersionArn"]
    rekognition.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=["v1"], WaiterConfig={"Delay": 1}
    )
    mark("train (waiter, Delay 1)")
    rekognition.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    rekognition.get_waiter("project_version_running").wait(
        ProjectArn=project, VersionNames=["v1"], WaiterConfig={"Delay": 1}
    )
    mark("start")
    right = detect(rekognition, version, probes)
    mark("100 detections")
    rekognition.stop_project_version(ProjectVersionArn=version)
    rekognition.delete_project_version(ProjectVersionArn=version)
    rekognition.delete_project(ProjectArn=project)
    mark("stop + delete")
    return right


SCENARIOS = {"bench": bench_lifecycle, "user": user_lifecycle}


def one(scenario: str, cache_dir: str, folder: str, run: str) -> tuple[Marks, int]:
    data_dir = os.path.join(folder, f"data-{run}")
    args = ["--log-level", "warning", "--cache-dir", cache_dir]
    with FakerekServer(data_dir, args=args) as server:
        marks: Marks = []

        def mark(name: str) -> None:
            marks.append((name, time.perf_counter()))

        right = SCENARIOS[scenario](server, mark)
    return marks, right


def report(scenario: str, run: str, marks: Marks, right: int) -> float:
    total = marks[-1][1] - marks[0][1]
    goal = GOALS.get((scenario, run))
    against = f"goal ≤ {goal} s: {'met' if total <= goal else 'NOT met'}" if goal else "no goal"
    print(f"{scenario} lifecycle, {run}: {total:.2f} s ({against}; {right} % right)")
    for (_, before), (name, after) in zip(marks, marks[1:], strict=False):
        print(f"    {name:26}{after - before:7.2f} s")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("bench", "user", "both"), default="both")
    parser.add_argument("--runs", type=int, default=1, help="cold + rerun pairs per scenario")
    options = parser.parse_args()
    scenarios = ("bench", "user") if options.scenario == "both" else (options.scenario,)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    figures: dict[tuple[str, str], list[float]] = {}
    for scenario in scenarios:
        for _ in range(options.runs):
            with tempfile.TemporaryDirectory() as folder:
                cache_dir = seeded_cache_dir(folder)
                for run in ("cold", "rerun"):
                    marks, right = one(scenario, cache_dir, folder, run)
                    total = report(scenario, run, marks, right)
                    figures.setdefault((scenario, run), []).append(total)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print("summary (min–max over runs):")
    for (scenario, run), totals in figures.items():
        goal = GOALS.get((scenario, run))
        print(
            f"    {scenario:6}{run:6}{min(totals):6.2f}–{max(totals):.2f} s"
            + (f"   goal ≤ {goal} s" if goal else "")
        )


if __name__ == "__main__":
    main()
