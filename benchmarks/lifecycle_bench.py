"""The whole lifecycle through boto3, timed: project, 100-image dataset, train, start, 100
detections, stop, delete — what AWS takes hours for.

Goal (product bar): under 20 s on 2 cores, server start excluded; issue 14: ≤ 2.5 s. The data
directory is new, so nothing is cached: the training builds the backbone and embeds every image.
Run: python benchmarks/lifecycle_bench.py
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fakerek.testing import FakerekServer

SHAPES = ("circle", "square", "triangle")
BUCKET = "lifecycle"


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


def main() -> None:
    images = [(SHAPES[i % 3], picture(i, SHAPES[i % 3])) for i in range(100)]
    probes = [picture(10_000 + i, SHAPES[i % 3]) for i in range(100)]
    with (
        tempfile.TemporaryDirectory() as folder,
        FakerekServer(os.path.join(folder, "data"), args=["--log-level", "warning"]) as server,
    ):
        rekognition, s3 = server.client(), server.client("s3")
        marks = [("start", time.perf_counter())]

        def mark(name: str) -> None:
            marks.append((name, time.perf_counter()))

        s3.create_bucket(Bucket=BUCKET)
        lines = []
        for i, (shape, data) in enumerate(images):
            s3.put_object(Bucket=BUCKET, Key=f"img/{i}.jpg", Body=data)
            lines.append(
                json.dumps(
                    {
                        "source-ref": f"s3://{BUCKET}/img/{i}.jpg",
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
            )
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
        rekognition.get_waiter("project_version_running").wait(
            ProjectArn=project, VersionNames=["v1"]
        )
        mark("start")
        right = 0
        for i, data in enumerate(probes):
            labels = rekognition.detect_custom_labels(
                ProjectVersionArn=version, Image={"Bytes": data}, MinConfidence=0
            )["CustomLabels"]
            right += labels[0]["Name"] == SHAPES[i % 3]
        mark("100 detections")
        rekognition.stop_project_version(ProjectVersionArn=version)
        rekognition.delete_project_version(ProjectVersionArn=version)
        rekognition.delete_dataset(DatasetArn=dataset)
        rekognition.delete_project(ProjectArn=project)
        assert rekognition.describe_projects()["ProjectDescriptions"] == []
        mark("stop + delete")
    print(f"machine: {os.cpu_count()} cores")
    for (_, before), (name, after) in zip(marks, marks[1:], strict=False):
        print(f"{name:20}{after - before:8.2f} s")
    print(
        f"{'total':20}{marks[-1][1] - marks[0][1]:8.2f} s   (held-out accuracy of the 100 "
        f"detections: {right} %)"
    )


if __name__ == "__main__":
    main()
