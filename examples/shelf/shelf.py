"""A small application of Rekognition Custom Labels: it labels a photo with its project's running
model. What an application would do in production, written against boto3 as usual; its tests
(test_shelf.py) run it against fakerek."""

from __future__ import annotations

from typing import Any


class NoRunningModel(LookupError):
    """The project has no model running: start one first (it is billed while it runs)."""


def running_model(rekognition: Any, project_arn: str) -> str | None:
    """The ARN of the newest model of the project that is RUNNING, or None."""
    pages = rekognition.get_paginator("describe_project_versions").paginate(ProjectArn=project_arn)
    for page in pages:  # newest first
        for model in page["ProjectVersionDescriptions"]:
            if model["Status"] == "RUNNING":
                return str(model["ProjectVersionArn"])
    return None


def labels(
    rekognition: Any, project_arn: str, image: bytes, min_confidence: float = 50
) -> list[str]:
    """The labels the project's running model sees in `image`, most confident first."""
    model = running_model(rekognition, project_arn)
    if model is None:
        raise NoRunningModel(project_arn)
    found = rekognition.detect_custom_labels(
        ProjectVersionArn=model, Image={"Bytes": image}, MinConfidence=min_confidence
    )["CustomLabels"]
    return [label["Name"] for label in found]
