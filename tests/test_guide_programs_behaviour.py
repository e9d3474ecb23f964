"""Behaviour the guide's example programs rely on, reproduced with our own boto3 calls.

The describe-model example prints `BillableTrainingTimeInSeconds` (in minutes) next to the model's
status: with realistic timing, a training that was seen `TRAINING_IN_PROGRESS` for the configured
duration must not end (nor be billed) before that.
"""

from __future__ import annotations

import time

import pytest
from images import SHAPES, scene
from manifests import BUCKET, image_line, project_from

OUT = "results"
DELAY = 4


@pytest.fixture
def s3(fakerek):
    client = fakerek.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.create_bucket(Bucket=OUT)
    return client


def imported_project(rekognition, s3, name: str, labels: tuple[str, ...]) -> str:
    lines = []
    for i in range(24):
        label = labels[i % len(labels)]
        data, _ = scene(300 + i, [label])
        s3.put_object(Bucket=BUCKET, Key=f"{name}{i}.jpg", Body=data)
        lines.append(image_line(f"{name}{i}.jpg", label))
    project = project_from(rekognition, s3, name, lines)
    [dataset] = rekognition.describe_projects(ProjectNames=[name])["ProjectDescriptions"][0][
        "Datasets"
    ]
    assert dataset["Status"] == "CREATE_COMPLETE"  # instant timing: the read waited for it
    return project


def train_seen_in_progress(fakerek, rekognition, project: str) -> tuple[dict, float]:
    """Train under realistic timing; return the final description and the last wall-clock time
    at which a read still showed TRAINING_IN_PROGRESS."""
    fakerek.configure(timing="realistic", delays={"training": DELAY})
    rekognition.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": OUT, "S3KeyPrefix": "o/"}
    )
    seen = 0.0
    deadline = time.monotonic() + DELAY + 120
    while time.monotonic() < deadline:
        asked = time.time()
        [found] = rekognition.describe_project_versions(ProjectArn=project, VersionNames=["v1"])[
            "ProjectVersionDescriptions"
        ]
        if found["Status"] != "TRAINING_IN_PROGRESS":
            return found, seen
        seen = asked
        time.sleep(0.5)
    raise AssertionError("the training never ended")


def test_realistic_training_ends_and_bills_when_its_status_changes(fakerek, rekognition, s3):
    project = imported_project(rekognition, s3, "billed", SHAPES)
    found, seen = train_seen_in_progress(fakerek, rekognition, project)
    assert found["Status"] == "TRAINING_COMPLETED"
    created = found["CreationTimestamp"].timestamp()
    ended = found["TrainingEndTimestamp"].timestamp()
    assert ended >= seen  # it was still training at `seen`
    assert ended - created >= DELAY
    assert found["BillableTrainingTimeInSeconds"] == max(1, round(ended - created))


def test_realistic_failed_training_ends_when_its_status_changes(fakerek, rekognition, s3):
    project = imported_project(rekognition, s3, "onelabel", ("circle",))
    found, seen = train_seen_in_progress(fakerek, rekognition, project)
    assert found["Status"] == "TRAINING_FAILED"
    ended = found["TrainingEndTimestamp"].timestamp()
    assert ended >= seen
    assert ended - found["CreationTimestamp"].timestamp() >= DELAY
    assert "BillableTrainingTimeInSeconds" not in found
