"""Custom Moderation benchmark: an adapter's training and DetectModerationLabels, through a real
fakerek server.

Builds 300 training images 640×480 (the composites of training_bench.py: scikit-image's objects
on its photos), each object standing for a moderation category (rocket: Violence, cup: Alcohol,
motorcycle: Visually Disturbing, logo: Hate Symbols; the cat, the face and the horse, and empty
images, are safe), trains an adapter from their manifest with the test images split off
(AutoCreate), then again on the same images (their embeddings come from the store), and prints
the time from CreateProjectVersion to TRAINING_COMPLETED, the evaluation's F1 (the adapter's
micro-F1 at the FeatureConfig threshold), then DetectModerationLabels p50/p95 through boto3 and
server-side (Server-Timing) with the adapter for first-seen images and for a repeated image (the
embedding cache), and without it (the base model's test double: rules only).

Run: pip install -e ".[bench]" && python benchmarks/moderation_bench.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from measure import pct, seeded_cache_dir  # noqa: E402
from training_bench import composite  # noqa: E402

from fakerek.testing import FakerekServer  # noqa: E402

BUCKET = "moderation-bench"
CATEGORIES = {
    "rocket": "Violence",
    "cup": "Alcohol",
    "motorcycle": "Visually Disturbing",
    "logo": "Hate Symbols",
}
TRAINING_IMAGES = 300
SIZE = (640, 480)


def images(rng: np.random.Generator, split: str, count: int) -> list[tuple[bytes, list[str]]]:
    out = []
    for i in range(count):
        data, boxes = composite(rng, split, i % 3 % 2 + (i % 5 == 0), size=SIZE)
        labels = sorted({CATEGORIES[name] for name, _ in boxes if name in CATEGORIES})
        out.append((data, labels))
    return out


def train(client, project: str, name: str) -> tuple[float, dict]:
    began = time.perf_counter()
    client.create_project_version(
        ProjectArn=project,
        VersionName=name,
        OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": name},
        TrainingData={
            "Assets": [
                {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "train.manifest"}}}
            ]
        },
        FeatureConfig={"ContentModeration": {"ConfidenceThreshold": 50}},
    )
    client.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=[name], WaiterConfig={"Delay": 1, "MaxAttempts": 3600}
    )
    seconds = time.perf_counter() - began
    [found] = client.describe_project_versions(ProjectArn=project, VersionNames=[name])[
        "ProjectVersionDescriptions"
    ]
    return seconds, found


def timed(client, images: list[bytes], **params: str) -> tuple[list[float], list[float]]:
    """Round-trip and server-side milliseconds of one DetectModerationLabels per image."""
    trips, server = [], []
    for image in images:
        began = time.perf_counter()
        answer = client.detect_moderation_labels(Image={"Bytes": image}, **params)
        trips.append((time.perf_counter() - began) * 1000)
        timing = answer["ResponseMetadata"]["HTTPHeaders"]["server-timing"]
        server.append(float(timing.split("dur=")[1]))
    return trips, server


def row(name: str, trips: list[float], server: list[float]) -> str:
    return (
        f"{name:<44} round trip p50 {pct(trips, 50):6.2f} ms  p95 {pct(trips, 95):6.2f} ms   "
        f"server p50 {pct(server, 50):6.2f} ms  p95 {pct(server, 95):6.2f} ms"
    )


def main() -> None:
    rng = np.random.default_rng(2020)
    training = images(rng, "train", TRAINING_IMAGES)
    fresh = [data for data, _ in images(rng, "test", 110)]
    with (
        tempfile.TemporaryDirectory() as folder,
        FakerekServer(
            os.path.join(folder, "data"),
            args=["--log-level", "warning", "--cache-dir", seeded_cache_dir(folder)],
        ) as server,
    ):
        client = server.client(config_options={"read_timeout": 900})
        s3 = server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        lines = []
        for i, (data, labels) in enumerate(training):
            s3.put_object(Bucket=BUCKET, Key=f"train/{i}.jpg", Body=data)
            lines.append(
                json.dumps(
                    {
                        "source-ref": f"s3://{BUCKET}/train/{i}.jpg",
                        "content-moderation-groundtruth": {
                            "ModerationLabels": [{"Name": label} for label in labels]
                        },
                    }
                )
            )
        s3.put_object(Bucket=BUCKET, Key="train.manifest", Body="\n".join(lines) + "\n")
        unsafe = sum(1 for _, labels in training if labels)
        project = client.create_project(
            ProjectName="bench", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED"
        )["ProjectArn"]
        cold, found = train(client, project, "cold")
        warm, _ = train(client, project, "retrained")
        adapter = found["ProjectVersionArn"]
        print(
            f"adapter, {TRAINING_IMAGES} images {SIZE[0]}x{SIZE[1]} ({unsafe} unsafe, 4 "
            f"categories): training {cold:.2f} s cold, {warm:.2f} s retrained from the "
            f"embedding store; F1 at 50: {found['EvaluationResult']['F1Score']:.3f}"
        )
        timed(client, fresh[100:110], ProjectVersion=adapter)  # warm: a session's first runs
        print(
            row(
                "DetectModerationLabels, adapter, first-seen",
                *timed(client, fresh[:100], ProjectVersion=adapter),
            )
        )  # noqa: E501
        print(
            row(
                "DetectModerationLabels, adapter, repeated",
                *timed(client, [fresh[0]] * 100, ProjectVersion=adapter),
            )
        )  # noqa: E501
        print(row("DetectModerationLabels, base model only", *timed(client, fresh[:100])))


if __name__ == "__main__":
    main()
