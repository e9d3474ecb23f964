"""Builders of manifest lines for the tests (valid by default; tests break one thing each), and
the project a manifest of them is imported into."""

from __future__ import annotations

import copy
import json
from typing import Any

BUCKET = "images"


def image_line(name: str, *labels: str, bucket: str = BUCKET) -> dict[str, Any]:
    line: dict[str, Any] = {"source-ref": f"s3://{bucket}/{name}"}
    for i, label in enumerate(labels):
        line[f"label{i}"] = i
        line[f"label{i}-metadata"] = {
            "class-name": label,
            "confidence": 1,
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "creation-date": "2024-01-15T10:00:00",
            "job-name": "labeling-job/x",
        }
    return line


def box_line(
    name: str,
    boxes: list[tuple[str, tuple[float, float, float, float]]],
    size: tuple[int, int] = (800, 600),
    attribute: str = "bounding-box",
) -> dict[str, Any]:
    """`boxes`: (label, (left, top, width, height)) in pixels of an image of `size`."""
    classes = sorted({label for label, _ in boxes})
    return {
        "source-ref": f"s3://{BUCKET}/{name}",
        attribute: {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
            "annotations": [
                {
                    "class_id": classes.index(label),
                    "left": b[0],
                    "top": b[1],
                    "width": b[2],
                    "height": b[3],
                }
                for label, b in boxes
            ],
        },
        f"{attribute}-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {str(i): label for i, label in enumerate(classes)},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2013-11-18T02:53:27",
            "job-name": "my job",
        },
    }


def changed(line: dict[str, Any], path: str, value: Any = "<delete>") -> dict[str, Any]:
    """A copy of `line` with the value at `path` ("a/b/0/c") replaced or deleted."""
    out = copy.deepcopy(line)
    *parents, last = path.split("/")
    target = out
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value == "<delete>":
        del target[key]
    else:
        target[key] = value
    return out


def manifest(lines: list[Any]) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"


def project_from(client: Any, s3: Any, name: str, lines: list, key: str | None = None) -> str:
    """A project whose TRAIN dataset is imported from `lines` (a manifest uploaded to S3)."""
    key = key or f"{name}.manifest"
    s3.put_object(Bucket=BUCKET, Key=key, Body=manifest(lines))
    project = client.create_project(ProjectName=name)["ProjectArn"]
    client.create_dataset(
        ProjectArn=project,
        DatasetType="TRAIN",
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}},
    )
    return project
