"""Issue 12, points 1, 6 and 8: calibrated confidences and thresholds, blank images, AWS's
detection evaluation snapshot and image messages, on real trained models.

The quality figures (ECE, accuracy, mAP, share of blank images left unlabelled) are measured by
benchmarks/training_bench.py; here, the rules behind them.
"""

from __future__ import annotations

import io
import json
from collections import Counter

import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import error_of
from images import SHAPES, scene
from manifests import BUCKET, box_line, image_line, project_from
from PIL import Image

from fakerek.ml import calibration, metrics
from fakerek.ml.metrics import evaluated_boxes
from fakerek.testing import FakerekServer

OUT = "out"


def _jpeg(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG", quality=90)
    return out.getvalue()


BLANKS = [_jpeg(np.full((240, 320, 3), level, np.uint8)) for level in (0, 128, 255)] + [
    _jpeg(np.random.default_rng(seed).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    for seed in range(3)
]


# -- the rules, on numbers --------------------------------------------------------------------


def test_platt_recovers_a_known_calibration():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, 20_000)
    truth = rng.random(20_000) < calibration.sigmoid(0.5 * logits - 1.0)  # overconfident by 2x
    fitted = calibration.Platt.fit(logits, truth)
    assert fitted.scale == pytest.approx(0.5, abs=0.03)
    assert fitted.shift == pytest.approx(-1.0, abs=0.06)
    confidence = fitted(logits)
    assert calibration.expected_calibration_error(confidence, truth) < 0.02
    assert calibration.expected_calibration_error(calibration.sigmoid(logits), truth) > 0.1


def test_a_few_easy_test_images_give_confident_but_not_certain_scores():
    logits = np.array([150.0, 120.0, 210.0, -90.0, -130.0, -170.0])  # perfectly separated
    truth = np.array([True, True, True, False, False, False])
    confidence = calibration.Platt.fit(logits, truth)(logits)
    assert np.all(confidence[:3] < 1.0) and np.all(confidence[3:] > 0.0)
    assert np.mean(confidence[:3]) == pytest.approx(4 / 5, abs=0.05)  # Platt: (3 + 1) / (3 + 2)
    assert calibration.bounded(np.array([1.0]))[0] * 100 < 100.0


def test_temperature_recovers_a_known_calibration():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, (5000, 4))
    truth_index = [rng.choice(4, p=p) for p in _softmax(logits / 3)]  # overconfident by 3x
    truth = np.eye(4, dtype=bool)[truth_index]
    assert calibration.Temperature.fit(logits, truth).temperature == pytest.approx(3, rel=0.05)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


def test_familiarity_damps_images_unlike_the_training_images():
    rng = np.random.default_rng(1)
    centre = rng.random(64)
    training = centre + 0.05 * rng.random((40, 64))
    held_out = centre + 0.05 * rng.random((10, 64))
    familiarity = calibration.Familiarity.of_training(training).fitted(held_out)
    assert np.all(familiarity(held_out) == 1.0)
    assert np.all(familiarity(rng.random((5, 64))) < 0.01)  # pointing elsewhere
    assert np.all(familiarity(0.5 * held_out) < 0.01)  # the same, but nothing stands out


def test_the_assumed_threshold_is_the_middle_of_the_best_f1_gap():
    scores = np.array([0.95, 0.9, 0.7, 0.3, 0.2])
    truth = np.array([True, True, True, False, False])
    threshold, precision, recall, f1 = metrics.best_threshold(scores, truth)
    assert threshold == pytest.approx(0.5) and (precision, recall, f1) == (1.0, 1.0, 1.0)


def test_the_evaluated_boxes_of_an_image():
    def box(x: float) -> np.ndarray:
        return np.array([x, 0.1, x + 0.2, 0.3], np.float32)

    truth = [("cat", box(0.0)), ("cat", box(0.4)), ("dog", box(0.7))]
    found = [  # best first, as the model gives them
        ("cat", 0.9, box(0.01)),  # matches cat 0, above the threshold: TP
        ("cat", 0.8, box(0.75)),  # no cat there: FP
        ("cat", 0.3, box(0.41)),  # matches cat 1 but below the threshold: FN
        ("cat", 0.2, box(0.2)),  # below the threshold, matches nothing: not evaluated
    ]
    outcomes = evaluated_boxes(found, truth, {"cat": 0.5, "dog": 0.5})
    assert [(outcome, label, score) for outcome, (label, score, _) in outcomes] == [
        ("TP", "cat", 0.9),
        ("FN", "cat", 0.3),
        ("FN", "dog", 0.0),  # nothing reached it: the true box itself, confidence 0
        ("FP", "cat", 0.8),
    ]


def test_the_evaluated_boxes_add_up_to_the_metrics():
    """On noisy predictions (misses, strays, boxes slightly off): per label, the outcomes of
    the evaluated boxes give back the metrics the evaluation summary reports."""
    rng = np.random.default_rng(3)
    labels = ["cat", "dog"]
    truth, predicted = [], []
    for _ in range(60):
        boxes = [(str(rng.choice(labels)), _random_box(rng)) for _ in range(rng.integers(1, 4))]
        found = [
            (label, float(rng.uniform(0.2, 1.0)), box + rng.normal(0, 0.04, 4).astype(np.float32))
            for label, box in boxes
            if rng.random() < 0.8
        ]
        found += [(str(rng.choice(labels)), float(rng.uniform(0, 0.9)), _random_box(rng))]
        truth.append(boxes)
        predicted.append(sorted(found, key=lambda item: -item[1]))
    scored = metrics.evaluate_boxes(labels, predicted, truth)
    thresholds = {r.label: r.threshold for r in scored.results}
    counts: Counter = Counter()
    for found, boxes in zip(predicted, truth, strict=True):
        for outcome, (label, _, _) in evaluated_boxes(found, boxes, thresholds):
            counts[label, outcome] += 1
    assert {outcome for _, outcome in counts} == {"TP", "FP", "FN"}
    for result in scored.results:
        tp, fp, fn = (counts[result.label, outcome] for outcome in ("TP", "FP", "FN"))
        assert tp + fn == sum(label == result.label for boxes in truth for label, _ in boxes)
        assert tp / (tp + fn) == pytest.approx(result.recall)
        assert tp / (tp + fp) == pytest.approx(result.precision)


def _random_box(rng: np.random.Generator) -> np.ndarray:
    x, y = rng.uniform(0, 0.7, 2)
    return np.array([x, y, x + 0.3, y + 0.3], np.float32)


# -- trained models ---------------------------------------------------------------------------


def _train(client, s3, name: str, lines: list) -> tuple[str, str]:
    project = project_from(client, s3, name, lines)
    version = client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": OUT}
    )["ProjectVersionArn"]
    client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    [found] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    return version, found


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One server with a shapes classifier and a shapes detector, both running."""
    with FakerekServer(str(tmp_path_factory.mktemp("calibration"))) as server:
        client, s3 = server.client(), server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=OUT)
        classes, boxes = [], []
        for i in range(24):
            data, _ = scene(300 + i, [SHAPES[i % 3]])
            s3.put_object(Bucket=BUCKET, Key=f"c{i}.jpg", Body=data)
            classes.append(image_line(f"c{i}.jpg", SHAPES[i % 3]))
        for i in range(30):
            data, found = scene(
                4000 + i, [SHAPES[(i + k) % 3] for k in range(1 + i % 2)], size=(320, 240)
            )
            s3.put_object(Bucket=BUCKET, Key=f"b{i}.jpg", Body=data)
            boxes.append(
                box_line(
                    f"b{i}.jpg",
                    [(label, (b[0], b[1], b[2] - b[0], b[3] - b[1])) for label, b in found],
                    size=(320, 240),
                )
            )
        yield {
            "client": client,
            "s3": s3,
            "classifier": _train(client, s3, "shapes", classes),
            "detector": _train(client, s3, "boxes", boxes),
        }


def _read(s3, location: dict) -> bytes:
    return s3.get_object(Bucket=OUT, Key=location["S3Object"]["Name"])["Body"].read()


def _snapshot(s3, description: dict) -> list[dict]:
    [asset] = description["TestingDataResult"]["Output"]["Assets"]
    return [json.loads(line) for line in _read(s3, asset["GroundTruthManifest"]).splitlines()]


@pytest.mark.parametrize("model", ["classifier", "detector"])
def test_no_threshold_or_confidence_is_certain(trained, model):
    version, description = trained[model]
    summary = json.loads(_read(trained["s3"], description["EvaluationResult"]["Summary"]))
    thresholds = [r["Metrics"]["Threshold"] for r in summary["LabelEvaluationResults"]]
    assert all(0.0 < t < 1.0 for t in thresholds), thresholds
    image, _ = scene(7000, [SHAPES[0]], size=(320, 240))
    labels = trained["client"].detect_custom_labels(
        ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=0
    )["CustomLabels"]
    assert labels and all(label["Confidence"] < 100.0 for label in labels)


@pytest.mark.parametrize("model", ["classifier", "detector"])
def test_blank_images_get_no_label(trained, model):
    version, _ = trained[model]
    for image in BLANKS:
        labels = trained["client"].detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": image}
        )["CustomLabels"]
        assert labels == []


def test_the_classifier_still_names_what_it_sees(trained):
    version, _ = trained["classifier"]
    for index, shape in enumerate(SHAPES):
        image, _ = scene(7100 + index, [shape])
        labels = trained["client"].detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": image}
        )["CustomLabels"]
        assert [label["Name"] for label in labels] == [shape]


def test_the_detection_snapshot_adds_up_to_the_summary(trained):
    _, description = trained["detector"]
    summary = json.loads(_read(trained["s3"], description["EvaluationResult"]["Summary"]))
    lines = _snapshot(trained["s3"], description)
    assert [line["rekognition-custom-labels-object-id"] for line in lines] == list(
        range(1, len(lines) + 1)
    )
    counts: Counter = Counter()
    true_boxes: Counter = Counter()
    for line in lines:
        classes = line["rekognition-custom-labels-training-0-metadata"]["class-map"]
        for annotation in line["rekognition-custom-labels-training-0"]["annotations"]:
            true_boxes[classes[str(annotation["class_id"])]] += 1
        evaluated = line["rekognition-custom-labels-evaluation"]["annotations"]
        objects = line["rekognition-custom-labels-evaluation-metadata"]["objects"]
        assert len(evaluated) == len(objects)
        for annotation, found in zip(evaluated, objects, strict=True):
            details = found["rekognition-custom-labels-evaluation-details"]
            outcome = [
                k
                for k in ("true-positive", "false-positive", "false-negative")
                if details[f"is-{k}"]
            ]
            assert len(outcome) == 1 and not details["is-true-negative"]
            assert details["is-present-in-ground-truth"] == (outcome[0] != "false-positive")
            counts[classes[str(annotation["class_id"])], outcome[0]] += 1
    for result in summary["LabelEvaluationResults"]:
        label = result["Label"]
        tp, fn = counts[label, "true-positive"], counts[label, "false-negative"]
        assert tp + fn == true_boxes[label]
        assert tp / (tp + fn) == pytest.approx(result["Metrics"]["Recall"])
        fp = counts[label, "false-positive"]
        if tp + fp:
            assert tp / (tp + fp) == pytest.approx(result["Metrics"]["Precision"])


@pytest.mark.parametrize(
    "image, code, message",
    [
        (
            b"GIF89a not supported",
            "InvalidImageFormatException",
            "Request has invalid image format",
        ),
        (
            _jpeg(np.zeros((40, 40, 3), np.uint8)),
            "InvalidParameterException",
            "Request has Invalid Parameters",
        ),
    ],
)
def test_image_messages(trained, image, code, message):
    version, _ = trained["classifier"]
    with pytest.raises(ClientError) as excinfo:
        trained["client"].detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})
    assert (error_of(excinfo)["Code"], error_of(excinfo)["Message"]) == (code, message)
