"""A trained model for the tests, built the way a user's own test setup would: photos in S3, a
Ground Truth manifest, a project, a dataset, a training. fakerek's plugin provides the server
(`fakerek`, reset before each test) and a boto3 client (`rekognition`)."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest
from PIL import Image, ImageDraw

BUCKET = "shelf-photos"


def photo(shape: str, seed: int) -> bytes:
    """A 128x96 JPEG of a circle or a square, of a random colour and place, on a grey shelf."""
    rng = random.Random(seed)
    image = Image.new("RGB", (128, 96), (rng.randint(90, 140),) * 3)
    side = rng.randint(32, 60)
    left, top = rng.randint(0, 128 - side), rng.randint(0, 96 - side)
    colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    draw = ImageDraw.Draw(image)
    box = (left, top, left + side, top + side)
    (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def manifest_line(key: str, shape: str) -> str:
    return json.dumps(
        {
            "source-ref": f"s3://{BUCKET}/{key}",
            "shape": 1,
            "shape-metadata": {
                "class-name": shape,
                "confidence": 1,
                "type": "groundtruth/image-classification",
                "human-annotated": "yes",
                "creation-date": "2024-01-01T00:00:00",
                "job-name": "labeling-job/shelf",
            },
        }
    )


@pytest.fixture
def trained(fakerek: Any, rekognition: Any) -> dict[str, str]:
    """A project with a trained (not yet started) model; its ARNs."""
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    lines = []
    for i in range(16):
        shape = ("circle", "square")[i % 2]
        s3.put_object(Bucket=BUCKET, Key=f"train/{i}.jpg", Body=photo(shape, i))
        lines.append(manifest_line(f"train/{i}.jpg", shape))
    s3.put_object(Bucket=BUCKET, Key="train.manifest", Body="\n".join(lines).encode())
    project = rekognition.create_project(ProjectName="shelf")["ProjectArn"]
    rekognition.create_dataset(
        ProjectArn=project,
        DatasetType="TRAIN",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "train.manifest"}}
        },
    )
    model = rekognition.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET}
    )["ProjectVersionArn"]
    rekognition.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=["v1"], WaiterConfig={"Delay": 1}
    )
    return {"project": project, "model": model}
