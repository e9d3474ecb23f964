"""Inference benchmark: DetectCustomLabels on trained models, through a real fakerek server.

Trains a classification and a localisation model (the tasks of training_bench.py), starts them,
and prints, for 640×480 JPEGs, p50/p95 of DetectCustomLabels through boto3 and server-side
(Server-Timing): first-seen images (each call a new image) and a repeated image (served from the
embedding cache); sustained images/s with 4 client threads, with the cache off (every call
computed) and on (a repeated image); and the server's RSS with one and with five running models
(four copies of the classifier, CopyProjectVersion), measured after a restart so that it is the
memory of serving, not of the trainings that came before.

Goals (issue 5): classification p50 ≤ 15 ms server-side and ≥ 100 images/s; localisation p50
≤ 60 ms; RSS ≤ 400 MB with five running models. Issue 14: repeated image p50 ≤ 2 ms server-side;
first-seen classification p50 ≤ 8 ms server-side.
Run: pip install -e ".[bench]" && python benchmarks/detect_bench.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from measure import against, pct, seeded_cache_dir  # noqa: E402
from training_bench import composite  # noqa: E402

from fakerek.testing import FakerekServer  # noqa: E402

BUCKET = "bench"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    return float("nan")


def line(key: str, boxes: list, detection: bool) -> dict:
    if not detection:
        return {
            "source-ref": f"s3://{BUCKET}/{key}",
            "a": 0,
            "a-metadata": {
                "class-name": boxes[0][0],
                "confidence": 1,
                "human-annotated": "yes",
                "type": "groundtruth/image-classification",
                "creation-date": "2024-01-01T00:00:00",
            },
        }
    names = sorted({name for name, _ in boxes})
    return {
        "source-ref": f"s3://{BUCKET}/{key}",
        "bb": {
            "image_size": [{"width": 320, "height": 320, "depth": 3}],
            "annotations": [
                {
                    "class_id": names.index(n),
                    "left": b[0] * 320,
                    "top": b[1] * 320,
                    "width": (b[2] - b[0]) * 320,
                    "height": (b[3] - b[1]) * 320,
                }
                for n, b in boxes
            ],
        },
        "bb-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {str(i): n for i, n in enumerate(names)},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
        },
    }


def train(client, s3, name: str, detection: bool, count: int) -> tuple[str, str]:
    rng = np.random.default_rng(11 if detection else 12)
    lines = []
    for i in range(count):
        data, boxes = composite(
            rng,
            "train",
            int(rng.integers(1, 4)) if detection else 1,
            fractions=(0.18, 0.55) if detection else (0.35, 0.8),
        )
        key = f"{name}/{i}.jpg"
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        lines.append(json.dumps(line(key, boxes, detection)))
    s3.put_object(Bucket=BUCKET, Key=f"{name}.manifest", Body="\n".join(lines))
    project = client.create_project(ProjectName=name)["ProjectArn"]
    client.create_dataset(
        ProjectArn=project,
        DatasetType="TRAIN",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": f"{name}.manifest"}}
        },
    )
    version = client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET}
    )["ProjectVersionArn"]
    client.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=["v1"]
    )
    return project, version


def timed(client, version: str, images: list[bytes]) -> tuple[list[float], list[float]]:
    """Round-trip and server-side milliseconds of one detection per image, in order."""
    trips, server = [], []
    for image in images:
        began = time.perf_counter()
        answer = client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})
        trips.append((time.perf_counter() - began) * 1000)
        timing = answer["ResponseMetadata"]["HTTPHeaders"]["server-timing"]
        server.append(float(timing.split("dur=")[1]))
    return trips, server


def throughput(server, version: str, image: bytes, seconds: float = 5.0) -> float:
    client = server.client(config_options={"max_pool_connections": 8})
    done = []
    stop = time.perf_counter() + seconds

    def work() -> None:
        count = 0
        while time.perf_counter() < stop:
            client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})
            count += 1
        done.append(count)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        FakerekServer(
            os.path.join(folder, "data"),
            args=["--log-level", "warning", "--cache-dir", seeded_cache_dir(folder)],
        ) as server,
    ):
        client = server.client(config_options={"read_timeout": 600})
        s3 = server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        cls_project, classifier = train(client, s3, "classes", False, 210)
        _, detector = train(client, s3, "boxes", True, 300)
        rng = np.random.default_rng(99)
        fresh = [composite(rng, "test", 2, size=(640, 480))[0] for _ in range(210)]
        image = fresh[0]
        rows = {}
        for name, version, calls in (
            ("classification", classifier, 200),
            ("localisation", detector, 100),
        ):
            client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
            timed(client, version, fresh[200:210])  # warm: the first runs of a session
            first = timed(client, version, fresh[1 : 1 + calls])
            repeated = timed(client, version, [image] * calls)
            server.configure(embedding_cache_mb=0, detection_store_mb=0)  # every call computed
            computed = throughput(server, version, image)
            server.configure(embedding_cache_mb=64, detection_store_mb=128)
            cached = throughput(server, version, image)
            rows[name] = (first, repeated, computed, cached)
        client.stop_project_version(ProjectVersionArn=detector)
        copies = []
        for i in range(4):
            copies.append(
                client.copy_project_version(
                    SourceProjectArn=cls_project,
                    SourceProjectVersionArn=classifier,
                    DestinationProjectArn=cls_project,
                    VersionName=f"copy{i}",
                    OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": f"copy{i}"},
                )["ProjectVersionArn"]
            )
            client.describe_project_versions(ProjectArn=cls_project, VersionNames=[f"copy{i}"])
            client.start_project_version(ProjectVersionArn=copies[-1], MinInferenceUnits=1)
        # memory of serving, not of the trainings before: the models stay running across a
        # restart and load at their first detection
        server.restart()
        client = server.client()
        client.detect_custom_labels(ProjectVersionArn=classifier, Image={"Bytes": image})
        one_model = rss_mb(server.pid)
        for copy in copies:
            client.detect_custom_labels(ProjectVersionArn=copy, Image={"Bytes": image})
        five_models = rss_mb(server.pid)

    print(f"machine: {os.cpu_count()} cores; images 640x480 JPEG, about {len(image)} bytes")
    print(
        f"{'':30}{'p50 ms':>9}{'p95 ms':>9}{'server p50':>12}{'server p95':>12}"
        f"{'img/s (4 thr)':>15}"
    )
    for name, (first, repeated, computed, cached) in rows.items():
        for kind, (trip, srv), rate in (
            ("first-seen", first, computed),
            ("repeated (cache)", repeated, cached),
        ):
            print(
                f"{name + ', ' + kind:30}{pct(trip, 50):9.1f}{pct(trip, 95):9.1f}"
                f"{pct(srv, 50):12.2f}{pct(srv, 95):12.2f}{rate:15.1f}"
            )
    first_seen = pct(rows["classification"][0][1], 50)
    verdict = against(first_seen, 6, " ms")
    print(f"first-seen server p50 (classification) {first_seen:.2f} ms, {verdict}")
    print(
        f"server RSS, one classifier running: {one_model:.0f} MB; five classifiers running "
        f"(detector stopped): {five_models:.0f} MB"
    )


if __name__ == "__main__":
    main()
