"""Training-time validation (manifests.md §2.7-2.8, §3): content errors in their documented
order, the use-case choice, the auto-split, the summary and the validation manifests.

CreateProjectVersion (the training issue) writes these results to S3; until it exists they are
checked here on the validation function itself, fed with real images."""

from __future__ import annotations

import io
import json

import pytest
from manifests import BUCKET, box_line, changed, image_line
from PIL import Image

from fakerek.manifests import training
from fakerek.manifests.importer import ImportFailed, ImportLimits
from fakerek.s3.objects import ExternalObjects

PNG = io.BytesIO()
Image.new("RGB", (100, 80), (1, 2, 3)).save(PNG, "PNG")
GOOD_IMAGE = PNG.getvalue()


def fetch_all(bucket, key):
    return None if "missing" in key else GOOD_IMAGE


def texts(lines):
    return [json.dumps(line) if isinstance(line, dict) else line for line in lines]


def classification(prefix, count, labels=("cat", "dog")):
    return [image_line(f"{prefix}{i}.png", labels[i % len(labels)]) for i in range(count)]


def run(train, test, **kw):
    kw.setdefault("fetch", fetch_all)
    return training.validate(texts(train), None if test is None else texts(test), **kw)


def test_clean_classification():
    result = run(classification("tr", 10), classification("te", 4))
    assert result.first_error is None
    summary = result.summary()
    assert summary == {
        "statistics": {
            "training": {
                "use_case": "IMAGE_LEVEL_LABELS",
                "total_json_lines": 10,
                "valid_json_lines": 10,
                "invalid_json_lines": 0,
                "ignored_json_lines": 0,
                "error_json_line_indices": [],
                "errors": [],
            },
            "testing": {
                "use_case": "IMAGE_LEVEL_LABELS",
                "total_json_lines": 4,
                "valid_json_lines": 4,
                "invalid_json_lines": 0,
                "ignored_json_lines": 0,
                "error_json_line_indices": [],
                "errors": [],
            },
        },
        "errors": [],
    }


def test_too_many_invalid_rows_counts_images_too():
    train = [
        *classification("tr", 7),
        image_line("missing1.png", "cat"),
        image_line("missing2.png", "dog"),
        "not json",
    ]
    result = run(train, classification("te", 4))
    assert result.training.errors == ["ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"]
    stats = result.summary()["statistics"]
    assert stats["training"]["error_json_line_indices"] == [8, 9, 10]
    assert stats["training"]["use_case"] == stats["testing"]["use_case"] == "NOT_DETERMINED"
    manifest = result.training.validation_manifest().splitlines()
    assert json.loads(manifest[7])["errors"][0]["code"] == "ERROR_INVALID_IMAGE"
    assert json.loads(manifest[9]) == {
        "errors": [
            {"code": "ERROR_INVALID_JSON_LINE", "message": "The JSON Line has an invalid format."}
        ]
    }


def test_ignored_lines_leave_the_denominator():
    train = [
        *classification("tr", 8),
        image_line("missing.png", "cat"),
        *[{"source-ref": f"s3://{BUCKET}/u{i}.png"} for i in range(5)],
    ]
    result = run(train, classification("te", 4))
    assert result.first_error is None  # 1 invalid of 9 considered
    assert result.training.count("ignored") == 5
    manifest = [json.loads(x) for x in result.training.validation_manifest().splitlines()]
    assert manifest[-1]["warnings"] == [
        {"code": "WARNING_UNANNOTATED_RECORD", "message": "Record is unannotated."}
    ]


def test_failed_copy_replaces_too_many_invalid_rows():
    train = [image_line(f"missing{i}.png", "cat") for i in range(5)]
    result = run(train, classification("te", 4))
    assert result.training.errors == ["ERROR_FAILED_IMAGES_S3_COPY"]


def test_bucket_rules():
    other = changed(image_line("x.png", "cat"), "source-ref", "s3://elsewhere/x.png")
    assert run([*classification("tr", 8), other], classification("te", 4)).training.errors[0] == (
        "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"
    )
    denied = run(classification("tr", 8), classification("te", 4), denied=frozenset({BUCKET}))
    assert denied.training.errors == ["ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET"]
    assert denied.testing.errors == ["ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET"]
    owned = run(
        classification("tr", 8),
        classification("te", 4),
        owners={BUCKET: "999999999999"},
        reference_owner="123456789012",
    )
    assert owned.training.errors == ["ERROR_INVALID_IMAGES_S3_BUCKET_OWNER"]


def test_label_counts():
    one_label = run(classification("tr", 6, ("cat",)), classification("te", 2, ("cat",)))
    assert one_label.training.errors == ["ERROR_MANIFEST_TOO_FEW_LABELS"]
    many = run(
        classification("tr", 8, tuple(f"l{i}" for i in range(8))),
        classification("te", 8, tuple(f"l{i}" for i in range(8))),
        limits=training.TrainingLimits(max_labels=5),
    )
    assert many.training.errors == many.testing.errors == ["ERROR_MANIFEST_TOO_MANY_LABELS"]
    boxes = [box_line(f"b{i}.png", [("car", (1, 1, 20, 20))], size=(100, 80)) for i in range(6)]
    assert run(boxes, boxes[:2]).first_error is None  # one label is enough to locate objects


def test_too_few_usable_labels():
    # image-level lines win the use case (3 vs 2): the box labels are not usable
    train = [image_line(f"c{i}.png", "cat") for i in range(3)]
    train += [
        box_line(f"b{i}.png", [(label, (1, 1, 20, 20))], size=(100, 80))
        for i, label in enumerate(("car", "bus"))
    ]
    result = run(train, classification("te", 4))
    assert result.training.use_case == "IMAGE_LEVEL_LABELS"
    assert result.training.errors == ["ERROR_MANIFEST_TOO_FEW_USABLE_LABELS"]
    assert result.training.count("ignored") == 2


def test_label_overlap():
    result = run(classification("tr", 8, ("a", "b", "c", "d")), classification("te", 4, ("a", "x")))
    assert result.errors == ["ERROR_INSUFFICIENT_LABEL_OVERLAP"]
    assert result.summary()["errors"][0]["code"] == "ERROR_INSUFFICIENT_LABEL_OVERLAP"
    assert result.first_error == "ERROR_INSUFFICIENT_LABEL_OVERLAP"


def test_usable_label_overlap():
    # training: boxes a, b (use case: object location); testing has a, b only as image-level
    # labels, which are not usable on the test side
    train = [
        box_line(f"b{i}.png", [("ab"[i % 2], (1, 1, 20, 20))], size=(100, 80)) for i in range(6)
    ]
    test = [
        image_line("t1.png", "a"),
        image_line("t2.png", "b"),
        box_line("t3.png", [("z", (1, 1, 20, 20))], size=(100, 80)),
    ]
    result = run(train, test)
    assert result.errors == ["ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP"]
    assert result.testing.count("ignored") == 2


def test_brand_detection_use_case():
    train = classification("tr", 6, ("logo-a", "logo-b"))
    test = [box_line(f"t{i}.png", [("logo-a", (1, 1, 20, 20))], size=(100, 80)) for i in range(2)]
    result = run(train, test)
    assert result.training.use_case == "OBJECT_LOCALIZATION"
    assert result.training.count("valid") == 6


def test_auto_split():
    result = run(classification("tr", 10), None)
    assert result.auto_split and result.first_error is None
    assert (len(result.training.lines), len(result.testing.lines)) == (8, 2)
    assert [line.number for line in result.testing.lines] == [1, 2]
    impossible = run([image_line("a.png", "cat"), image_line("b.png", "dog")], None)
    assert impossible.training.errors == ["ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT"]
    assert impossible.summary()["statistics"]["testing"]["total_json_lines"] == 0


def test_duplicates_in_external_manifests_are_invalid_json_lines():
    train = [*classification("tr", 8), image_line("tr0.png", "dog")]
    result = run(train, classification("te", 4))
    last = json.loads(result.training.validation_manifest().splitlines()[-1])
    assert last["errors"][0]["code"] == "ERROR_INVALID_JSON_LINE"
    assert last["source-ref"].endswith("tr0.png")


@pytest.mark.parametrize(
    "size, code", [((40, 40), "ERROR_INVALID_IMAGE"), ((2000, 50), "ERROR_INVALID_IMAGE")]
)
def test_image_rules(size, code):
    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, "PNG")
    result = run(
        classification("tr", 8),
        classification("te", 4),
        fetch=lambda b, k: buffer.getvalue() if k == "tr0.png" else GOOD_IMAGE,
    )
    first = json.loads(result.training.validation_manifest().splitlines()[0])
    assert first["errors"][0]["code"] == code


def test_file_checks_of_a_training(fakerek):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="ok.manifest", Body="\n".join(texts(classification("a", 3))))
    s3.put_object(Bucket=BUCKET, Key="blank.manifest", Body=" \n")
    s3.put_object(Bucket=BUCKET, Key="noext", Body="{}")
    objects = ExternalObjects(fakerek.endpoint, "us-east-1")
    denied = ExternalObjects(fakerek.endpoint, "us-east-1", frozenset({BUCKET}))
    training.check_output_bucket(objects, BUCKET)
    assert len(training.read_manifest(objects, BUCKET, "ok.manifest", None)) == 3
    cases = [
        (
            lambda: training.check_output_bucket(objects, "no-such-output"),
            "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET",
        ),
        (
            lambda: training.read_manifest(objects, BUCKET, "blank.manifest", None),
            "ERROR_EMPTY_MANIFEST",
        ),
        (
            lambda: training.read_manifest(objects, BUCKET, "noext", None),
            "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
        ),
        (
            lambda: training.read_manifest(objects, BUCKET, "gone.manifest", None),
            "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
        ),
        (
            lambda: training.read_manifest(denied, BUCKET, "ok.manifest", None),
            "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET",
        ),
        (
            lambda: training.read_manifest(
                objects, BUCKET, "ok.manifest", None, ImportLimits(max_bytes=10)
            ),
            "ERROR_MANIFEST_SIZE_TOO_LARGE",
        ),
    ]
    for call, code in cases:
        with pytest.raises(ImportFailed) as excinfo:
            call()
        assert excinfo.value.code == code
