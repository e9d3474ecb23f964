"""Issue 12, "Fidelity, second pass": behaviours that follow AWS's published examples and guide.

Datasets and messages here; the evaluation snapshot and calibrated confidences of trained models
in test_calibration.py.
"""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from manifests import BUCKET, box_line, image_line, manifest
from PIL import Image

from fakerek.manifests import split, training

SHAPES = ("circle", "square", "triangle")


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def s3(fakerek):
    client = fakerek.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def project(rekognition, s3):
    return rekognition.create_project(ProjectName="fidelity")["ProjectArn"]


def _dataset(rekognition, s3, project, lines, kind="TRAIN") -> str:
    s3.put_object(Bucket=BUCKET, Key=f"{kind}.manifest", Body=manifest(lines))
    return rekognition.create_dataset(
        ProjectArn=project,
        DatasetType=kind,
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": f"{kind}.manifest"}}
        },
    )["DatasetArn"]


def _description(rekognition, dataset: str) -> dict:
    return rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]


# -- 2. a representative test split ---------------------------------------------------------------


def _sorted_manifest(bad: int = 8) -> list[dict]:
    """64 labelled lines sorted by label, then `bad` lines (their images are missing) at the end."""
    good = [image_line(f"{SHAPES[i * 3 // 64]}{i}.png", SHAPES[i * 3 // 64]) for i in range(64)]
    return good + [image_line(f"missing{i}.png", "circle") for i in range(bad)]


def _entries(lines: list[dict]) -> list[split.Entry]:
    return [
        split.Entry(n, True, {line["label0-metadata"]["class-name"]}, line["source-ref"])
        for n, line in enumerate(lines, 1)
    ]


def test_the_split_is_a_stratified_random_fifth():
    lines = _sorted_manifest(bad=0)
    chosen = split.choose(_entries(lines))
    counts = Counter(lines[p - 1]["label0-metadata"]["class-name"] for p in chosen)
    assert len(chosen) == 13  # round(0.2 * 64)
    assert set(counts) == set(SHAPES) and all(4 <= n <= 5 for n in counts.values())
    assert chosen != list(range(52, 65))  # not the last fifth of the manifest
    shuffled = list(reversed(lines))
    again = split.choose(_entries(shuffled))
    assert sorted(shuffled[p - 1]["source-ref"] for p in again) == sorted(
        lines[p - 1]["source-ref"] for p in chosen
    )  # the same dataset splits the same way, whatever the order of its lines


def test_the_invalid_row_threshold_applies_to_the_whole_auto_split_manifest():
    def fetch(bucket: str, key: str) -> bytes | None:
        return None if key.startswith("missing") else _png(100, 80)

    texts = [json.dumps(line) for line in _sorted_manifest(bad=8)]
    result = training.validate(texts, None, fetch=fetch)  # 8 bad lines of 72: 11 %
    assert result.first_error is None
    tested = Counter(
        min(line.labels) if line.outcome == "valid" else "bad" for line in result.testing.lines
    )
    assert tested["bad"] <= 3 and all(tested[shape] >= 3 for shape in SHAPES)
    too_many = [json.dumps(line) for line in _sorted_manifest(bad=17)]  # 17 of 81: 21 %
    failed = training.validate(too_many, None, fetch=fetch)
    assert failed.training.errors == ["ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"]
    assert failed.testing.errors == []


def test_distribute_moves_a_representative_fifth(rekognition, s3, project):
    train = _dataset(rekognition, s3, project, _sorted_manifest(bad=0))
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    rekognition.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    labels = rekognition.list_dataset_labels(DatasetArn=test)["DatasetLabelDescriptions"]
    assert {d["LabelName"]: d["LabelStats"]["EntryCount"] for d in labels} == {
        shape: count
        for shape, count in Counter(
            json.loads(e)["label0-metadata"]["class-name"]
            for e in rekognition.list_dataset_entries(DatasetArn=test)["DatasetEntries"]
        ).items()
    }
    assert sorted(d["LabelName"] for d in labels) == sorted(SHAPES)


# -- 3. dataset status messages ---------------------------------------------------------------


def test_dataset_status_messages(rekognition, s3, project):
    imported = _dataset(rekognition, s3, project, _sorted_manifest(bad=0))
    found = _description(rekognition, imported)
    assert (found["Status"], found["StatusMessage"], found["StatusMessageCode"]) == (
        "CREATE_COMPLETE",
        "The dataset was successfully created from the manifest file.",
        "SUCCESS",
    )
    empty = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    assert _description(rekognition, empty)["StatusMessage"] == (
        "The dataset was successfully created."
    )
    s3.put_object(Bucket=BUCKET, Key="blank.manifest", Body=b" \n")
    other = rekognition.create_project(ProjectName="other")["ProjectArn"]
    failed = rekognition.create_dataset(
        ProjectArn=other,
        DatasetType="TRAIN",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "blank.manifest"}}
        },
    )["DatasetArn"]
    found = _description(rekognition, failed)
    assert (found["Status"], found["StatusMessage"], found["StatusMessageCode"]) == (
        "CREATE_FAILED",
        "The manifest file is empty.",  # the bare message: no "ERROR_EMPTY_MANIFEST: "
        "CLIENT_ERROR",
    )


# -- 4. images from a second bucket -----------------------------------------------------------


def test_an_update_from_a_second_bucket_fails_the_dataset(rekognition, s3, project):
    dataset = _dataset(rekognition, s3, project, _sorted_manifest(bad=0)[:10])
    rekognition.update_dataset_entries(
        DatasetArn=dataset,
        Changes={"GroundTruth": json.dumps(image_line("x.png", "circle", bucket="elsewhere"))},
    )
    found = _description(rekognition, dataset)
    assert (found["Status"], found["StatusMessage"], found["StatusMessageCode"]) == (
        "UPDATE_FAILED",
        "The manifest file contains images from multiple S3 buckets.",
        "CLIENT_ERROR",
    )
    assert found["DatasetStats"]["TotalEntries"] == 10  # the update was not applied
    listed = rekognition.list_dataset_entries(DatasetArn=dataset, SourceRefContains="elsewhere")
    assert listed["DatasetEntries"] == []
    same_bucket = json.dumps(image_line("y.png", "circle"))
    rekognition.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": same_bucket})
    assert _description(rekognition, dataset)["Status"] == "UPDATE_COMPLETE"


def test_a_manifest_with_two_image_buckets_fails_the_import(rekognition, s3, project):
    lines = [*_sorted_manifest(bad=0)[:5], image_line("x.png", "circle", bucket="elsewhere")]
    found = _description(rekognition, _dataset(rekognition, s3, project, lines))
    assert (found["Status"], found["StatusMessage"]) == (
        "CREATE_FAILED",
        "The manifest file contains images from multiple S3 buckets.",
    )


# -- 6. messages ------------------------------------------------------------------------------
# The LimitExceededException of StartProjectVersion names no setting: test_running.py checks it
# on a stopped model (the quota applies after the model's existence and state).


# -- 7. small shapes --------------------------------------------------------------------------


def test_one_code_is_listed_once_per_errors_array():
    line = box_line("tiny.png", [("car", (1, 1, 10, 10))], size=(40, 40))
    result = training.validate(
        [json.dumps(line)] * 1, [], fetch=lambda bucket, key: _png(40, 40), across=False
    )
    [validated] = result.training.validation_manifest().splitlines()
    codes = [error["code"] for error in json.loads(validated)["errors"]]
    assert codes.count("ERROR_INVALID_IMAGE_DIMENSION") == 1, codes
