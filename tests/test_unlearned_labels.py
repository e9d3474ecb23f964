"""Issue 18 item 4: a test set with labels the training set lacks trains (the overlap rule is
test ∩ train / train), and its evaluation counts those labels as never predicted; a version whose
artefacts or stored results are missing or damaged is still described, by boto3 and the console.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request

import pytest
from images import scene
from manifests import BUCKET, box_line, image_line, manifest

from fakerek.store.db import DB_NAME

OUT = "results"
LEARNED = ["circle", "square"]
TESTED = ["circle", "square", "triangle"]


def _asset(key: str) -> dict:
    return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}}]}


def _image_lines(s3, labels: list[str], count: int, seed: int) -> list[dict]:
    lines = []
    for i in range(count):
        label = labels[i % len(labels)]
        data, _ = scene(seed + i, [label])
        s3.put_object(Bucket=BUCKET, Key=f"{seed}/{i}.jpg", Body=data)
        lines.append(image_line(f"{seed}/{i}.jpg", label))
    return lines


def _box_lines(s3, labels: list[str], count: int, seed: int) -> list[dict]:
    lines = []
    for i in range(count):
        shapes = [labels[(i + k) % len(labels)] for k in range(1 + i % 2)]
        data, boxes = scene(seed + i, shapes, size=(320, 240))
        s3.put_object(Bucket=BUCKET, Key=f"{seed}/{i}.jpg", Body=data)
        lines.append(
            box_line(
                f"{seed}/{i}.jpg",
                [(label, (b[0], b[1], b[2] - b[0], b[3] - b[1])) for label, b in boxes],
                size=(320, 240),
            )
        )
    return lines


def _train(client, s3, name: str, train_lines: list, test_lines: list) -> tuple[str, dict]:
    """(project ARN, its version v1 trained on these lines)."""
    s3.put_object(Bucket=BUCKET, Key=f"{name}/train.manifest", Body=manifest(train_lines))
    s3.put_object(Bucket=BUCKET, Key=f"{name}/test.manifest", Body=manifest(test_lines))
    project = client.create_project(ProjectName=name)["ProjectArn"]
    client.create_project_version(
        ProjectArn=project,
        VersionName="v1",
        OutputConfig={"S3Bucket": OUT, "S3KeyPrefix": name},
        TrainingData=_asset(f"{name}/train.manifest"),
        TestingData=_asset(f"{name}/test.manifest"),
    )
    [found] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    return project, found


def _read(s3, location: dict) -> bytes:
    s3_object = location["S3Object"]
    return s3.get_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"])["Body"].read()


def _snapshot(s3, found: dict) -> list[dict]:
    [asset] = found["TestingDataResult"]["Output"]["Assets"]
    return [json.loads(line) for line in _read(s3, asset["GroundTruthManifest"]).splitlines()]


@pytest.fixture
def s3(fakerek):
    client = fakerek.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.create_bucket(Bucket=OUT)
    return client


def _console(server, path: str) -> str:
    with urllib.request.urlopen(f"{server.endpoint}/_fakerek/console{path}", timeout=30) as page:
        assert page.status == 200
        return page.read().decode()


def test_a_classifier_evaluates_test_labels_it_never_learned(fakerek, rekognition, s3):
    _, found = _train(
        rekognition, s3, "cls", _image_lines(s3, LEARNED, 16, 0), _image_lines(s3, TESTED, 9, 500)
    )
    assert found["Status"] == "TRAINING_COMPLETED", found["StatusMessage"]
    summary = json.loads(_read(s3, found["EvaluationResult"]["Summary"]))
    assert summary["EvaluationDetails"]["Labels"] == TESTED
    by_label = {r["Label"]: r for r in summary["LabelEvaluationResults"]}
    assert by_label["triangle"]["NumberOfTestingImages"] == 3
    assert by_label["triangle"]["Metrics"] == {
        "Threshold": 0.5,
        "Precision": 0.0,
        "Recall": 0.0,
        "F1Score": 0.0,
    }
    assert summary["LabelEvaluationResults"][-1]["Label"] == "triangle"  # by F1, best first
    aggregated = summary["AggregatedEvaluationResults"]
    assert aggregated["F1Score"] == pytest.approx(
        sum(r["Metrics"]["F1Score"] for r in by_label.values()) / 3
    )
    assert found["EvaluationResult"]["F1Score"] == pytest.approx(aggregated["F1Score"])
    assert by_label["circle"]["Metrics"]["F1Score"] > 0.5  # the learned labels are learned
    cells = {
        (c["PredictedLabel"], c["GroundTruthLabel"]): c["Value"]
        for c in aggregated["ConfusionMatrix"]
    }
    assert len(cells) == 9
    assert sum(cells[(p, "triangle")] for p in TESTED) == pytest.approx(1.0)
    assert all(cells[("triangle", g)] == 0.0 for g in TESTED)  # never the predicted label

    snapshot = _snapshot(s3, found)
    outcomes = []
    for record in snapshot:
        truth = {
            v["class-name"]
            for k, v in record.items()
            if k.startswith("rekognition-custom-labels-training-") and k.endswith("-metadata")
        }
        [triangle] = [
            v
            for k, v in record.items()
            if k.startswith("rekognition-custom-labels-evaluation-")
            and k.endswith("-metadata")
            and v["class-name"] == "triangle"
        ]
        details = triangle["rekognition-custom-labels-evaluation-details"]
        assert triangle["confidence"] == 0.0
        assert details["is-present-in-ground-truth"] == ("triangle" in truth)
        flags = [k for k in ("is-false-negative", "is-true-negative") if details[k]]
        outcomes += flags
    assert sorted(outcomes) == ["is-false-negative"] * 3 + ["is-true-negative"] * 6

    page = _console(fakerek, f"/model?arn={found['ProjectVersionArn']}")
    assert '<th scope="row">triangle</th>' in page
    # the model's files hold the labels it learned only: it starts and never answers triangle
    arn = found["ProjectVersionArn"]
    rekognition.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
    data, _ = scene(999, ["triangle"])
    labels = rekognition.detect_custom_labels(
        ProjectVersionArn=arn, Image={"Bytes": data}, MinConfidence=0
    )["CustomLabels"]
    assert labels and {label["Name"] for label in labels} <= set(LEARNED)


def test_a_detector_evaluates_test_labels_it_never_learned(rekognition, s3):
    _, found = _train(
        rekognition, s3, "det", _box_lines(s3, LEARNED, 24, 2000), _box_lines(s3, TESTED, 9, 2500)
    )
    assert found["Status"] == "TRAINING_COMPLETED", found["StatusMessage"]
    summary = json.loads(_read(s3, found["EvaluationResult"]["Summary"]))
    assert summary["EvaluationDetails"]["Labels"] == TESTED
    by_label = {r["Label"]: r for r in summary["LabelEvaluationResults"]}
    assert by_label["triangle"]["Metrics"]["Recall"] == 0.0
    assert by_label["triangle"]["Metrics"]["F1Score"] == 0.0
    true_triangles = missed = 0
    for record in _snapshot(s3, found):
        classes = record["rekognition-custom-labels-evaluation-metadata"]["class-map"]
        assert sorted(classes.values()) == TESTED
        triangle = next(k for k, v in classes.items() if v == "triangle")
        true_triangles += sum(
            1
            for box in record["rekognition-custom-labels-training-0"]["annotations"]
            if str(box["class_id"]) == triangle
        )
        evaluated = zip(
            record["rekognition-custom-labels-evaluation"]["annotations"],
            record["rekognition-custom-labels-evaluation-metadata"]["objects"],
            strict=True,
        )
        for box, item in evaluated:
            if str(box["class_id"]) == triangle:
                details = item["rekognition-custom-labels-evaluation-details"]
                assert details["is-false-negative"] and item["confidence"] == 0.0
                missed += 1
    assert missed == true_triangles > 0  # each true triangle box once, as a false negative


# -- a version whose artefacts or stored results are damaged is still described ----------------

DAMAGED_SUMMARIES = [
    b"\xff\xfe not text",
    b"not json",
    b"[1, 2]",
    json.dumps(
        {
            "AggregatedEvaluationResults": "high",
            "LabelEvaluationResults": [1, {"Label": ["x"], "Metrics": "good"}, None],
            "EvaluationDetails": [],
        }
    ).encode(),
    json.dumps(
        {
            "AggregatedEvaluationResults": {"F1Score": "1", "ConfusionMatrix": [[], {"x": 1}]},
            "LabelEvaluationResults": {"circle": 1},
            "EvaluationDetails": {"Labels": "circle", "NumberOfTestingImages": {"a": 1}},
        }
    ).encode(),
]
DAMAGED_SNAPSHOTS = [
    b"\xff",
    b"{not json\n",
    b'[1]\n"x"\nnull\n',
    json.dumps(
        {
            "source-ref": 5,
            "a-metadata": {"type": "groundtruth/image-classification", "class-name": ["x"]},
            "b": {"image_size": "big", "annotations": [None, {"class_id": []}]},
            "b-metadata": {"type": "groundtruth/object-detection", "objects": 3, "class-map": []},
            "c-metadata": {
                "type": "groundtruth/image-classification",
                "class-name": "circle",
                "confidence": "high",
                "rekognition-custom-labels-evaluation-details": {"is-true-positive": True},
            },
        }
    ).encode()
    + b"\n",
]


def _all_pages_answer(server, client, project: str) -> None:
    """Every read of the project's versions answers: boto3 and the console's pages."""
    found = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    client.describe_projects()
    assert "Projects" in _console(server, "/")
    _console(server, f"/project?arn={project}")
    for version in found:
        _console(server, f"/model?arn={version['ProjectVersionArn']}")


def test_damaged_or_missing_artefacts_leave_the_version_readable(fakerek, rekognition, s3):
    project, classifier = _train(
        rekognition, s3, "cls", _image_lines(s3, LEARNED, 12, 0), _image_lines(s3, TESTED, 6, 500)
    )
    other, detector = _train(
        rekognition, s3, "det", _box_lines(s3, LEARNED, 12, 2000), _box_lines(s3, TESTED, 6, 2500)
    )
    for found in (classifier, detector):
        assert found["Status"] == "TRAINING_COMPLETED", found["StatusMessage"]
    locations = [
        (loc["S3Object"]["Bucket"], loc["S3Object"]["Name"])
        for found in (classifier, detector)
        for loc in (found["EvaluationResult"]["Summary"], found["ManifestSummary"])
    ]
    snapshots = [
        (s3_object["Bucket"], s3_object["Name"])
        for found in (classifier, detector)
        for s3_object in [
            found["TestingDataResult"]["Output"]["Assets"][0]["GroundTruthManifest"]["S3Object"]
        ]
    ]
    for summary, snapshot in zip(DAMAGED_SUMMARIES, DAMAGED_SNAPSHOTS * 2, strict=False):
        for bucket, key in locations:
            s3.put_object(Bucket=bucket, Key=key, Body=summary)
        for bucket, key in snapshots:
            s3.put_object(Bucket=bucket, Key=key, Body=snapshot)
        for arn in (project, other):
            _all_pages_answer(fakerek, rekognition, arn)
    listed = s3.list_objects_v2(Bucket=OUT)["Contents"]
    s3.delete_objects(Bucket=OUT, Delete={"Objects": [{"Key": o["Key"]} for o in listed]})
    page = _console(fakerek, f"/model?arn={classifier['ProjectVersionArn']}")
    assert "The evaluation summary cannot be read" in page
    [again] = rekognition.describe_project_versions(ProjectArn=project)[
        "ProjectVersionDescriptions"
    ]
    assert again == classifier  # described from what the store holds, not from S3


STORED_RESULTS = [
    # what a training that failed between two snapshots left before issue 18
    {
        "ManifestSummary": {"S3Object": {"Bucket": OUT, "Name": "m.json"}},
        "TrainingValidation": {"S3Object": {"Bucket": OUT, "Name": "t.json"}},
        "TestingValidation": {"S3Object": {"Bucket": OUT, "Name": "u.json"}},
        "EvaluationResult": {
            "F1Score": 0.5,
            "Summary": {"S3Object": {"Bucket": OUT, "Name": "e.json"}},
        },
        "TrainingOutput": {"S3Object": {"Bucket": OUT, "Name": "o.json"}},
    },
    {"TrainingValidation": {"S3Object": {"Bucket": OUT}}, "EvaluationResult": {"F1Score": "x"}},
    {"EvaluationResult": {"F1Score": 7, "Summary": "s3://x/y"}, "TestingOutput": []},
    {"BillableTrainingTimeInSeconds": "forever", "ManifestSummary": {"S3Object": None}},
    [1, 2],
    "not json",
]


@pytest.mark.parametrize("stored", STORED_RESULTS, ids=range(len(STORED_RESULTS)))
def test_damaged_stored_results_leave_the_version_readable(own_server, stored):
    s3 = own_server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=OUT)
    client = own_server.client()
    project, found = _train(
        client, s3, "p", _image_lines(s3, LEARNED, 8, 0), _image_lines(s3, LEARNED, 4, 500)
    )
    assert found["Status"] == "TRAINING_COMPLETED", found["StatusMessage"]
    own_server.stop()
    with sqlite3.connect(f"{own_server.data_dir}/{DB_NAME}") as db:
        text = stored if isinstance(stored, str) else json.dumps(stored)
        db.execute("UPDATE versions SET results = ?", (text,))
    own_server.start()
    _all_pages_answer(own_server, client := own_server.client(), project)
    [again] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    assert again["Status"] == "TRAINING_COMPLETED"
    for part in ("TrainingDataResult", "TestingDataResult"):  # halves of a pair are not shown
        assert "Output" not in again[part]
    if isinstance(stored, dict) and "TestingValidation" in stored:
        assert again["ManifestSummary"] == stored["ManifestSummary"]
        assert again["EvaluationResult"] == stored["EvaluationResult"]
    else:
        assert "EvaluationResult" not in again and "ManifestSummary" not in again
    assert "Traceback" not in own_server.log()
