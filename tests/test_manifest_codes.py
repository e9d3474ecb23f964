"""Every manifest validation code, each from a manifest that provokes it, seen where a user sees
it: `cl-errors` in ListDatasetEntries, or the dataset's StatusMessage for terminal errors."""

from __future__ import annotations

import json

import pytest
from manifests import BUCKET, box_line, changed, image_line, manifest

from fakerek.manifests.codes import CONTENT_ERRORS, FILE_ERRORS

GOOD = [image_line(f"good{i}.jpg", "cat" if i % 2 else "dog") for i in range(8)]


@pytest.fixture
def project(fakerek, rekognition):
    fakerek.client("s3").create_bucket(Bucket=BUCKET)
    return rekognition.create_project(ProjectName="codes")["ProjectArn"]


def create(
    fakerek, project, body: str | bytes, key: str = "data/train.manifest", kind: str = "TRAIN"
) -> str:
    s3 = fakerek.client("s3")
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return fakerek.client().create_dataset(
        ProjectArn=project,
        DatasetType=kind,
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}},
    )["DatasetArn"]


def entry_of(fakerek, dataset: str, name: str) -> dict:
    [entry] = fakerek.client().list_dataset_entries(
        DatasetArn=dataset, SourceRefContains=f"/{name}"
    )["DatasetEntries"]
    return json.loads(entry)


def codes(errors: list[dict]) -> list[str]:
    return [e["code"] for e in errors]


def description(fakerek, dataset: str) -> dict:
    return fakerek.client().describe_dataset(DatasetArn=dataset)["DatasetDescription"]


# -- non-terminal codes stored on the entries ---------------------------------------------------

BOX = box_line("box.jpg", [("car", (10, 20, 100, 50)), ("person", (300, 200, 60, 120))])

LINE_LEVEL = [
    ("ERROR_NO_LABEL_ATTRIBUTES", {"source-ref": f"s3://{BUCKET}/x.jpg", "bounding-box": {}}),
    (
        "ERROR_NO_LABEL_ATTRIBUTES",
        {"source-ref": f"s3://{BUCKET}/x.jpg", "animal-metadata": {"class-name": "cat"}},
    ),
    (
        "ERROR_TOO_MANY_BOUNDING_BOXES",
        box_line("x.jpg", [("car", (i, i, 10, 10)) for i in range(51)]),
    ),
    ("ERROR_INVALID_IMAGE_DIMENSION", box_line("x.jpg", [("car", (1, 1, 10, 10))], (63, 500))),
    ("ERROR_INVALID_IMAGE_DIMENSION", box_line("x.jpg", [("car", (1, 1, 10, 10))], (4097, 500))),
]


@pytest.mark.parametrize("code, line", LINE_LEVEL)
def test_line_level_codes(fakerek, project, code, line):
    dataset = create(fakerek, project, manifest([*GOOD, line]))
    entry = entry_of(fakerek, dataset, "x.jpg")
    assert code in codes(entry["cl-errors"])
    assert description(fakerek, dataset)["DatasetStats"]["ErrorEntries"] == 1


def test_invalid_label_attribute_format_image_level(fakerek, project):
    line = changed(image_line("x.jpg", "cat"), "label0", "zero")
    entry = entry_of(fakerek, create(fakerek, project, manifest([*GOOD, line])), "x.jpg")
    assert codes(entry["label0-metadata"]["cl-errors"]) == ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"]
    assert entry["label0-metadata"]["cl-errors"][0]["message"] == (
        "The format of the label attribute label0 is invalid."
    )


@pytest.mark.parametrize(
    "path, value",
    [
        ("bounding-box/image_size", "<delete>"),
        ("bounding-box/image_size", [{"width": 800, "height": 600}]),
        ("bounding-box/annotations/0/class_id", -1),
        ("bounding-box/annotations/1/top", "10"),
    ],
)
def test_invalid_label_attribute_format_boxes(fakerek, project, path, value):
    line = changed(
        box_line("x.jpg", [("car", (1, 1, 10, 10)), ("bus", (5, 5, 20, 20))]), path, value
    )
    entry = entry_of(fakerek, create(fakerek, project, manifest([*GOOD, line])), "x.jpg")
    assert codes(entry["bounding-box"]["cl-errors"]) == ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"]


@pytest.mark.parametrize(
    "line",
    [
        changed(image_line("x.jpg", "cat"), "label0-metadata/confidence", 2),
        changed(image_line("x.jpg", "cat"), "label0-metadata/human-annotated", "maybe"),
        changed(image_line("x.jpg", "cat"), "label0-metadata/class-name"),
        changed(BOX, "bounding-box-metadata/class-map", ["car"]),
        changed(BOX, "bounding-box-metadata/objects"),
    ],
)
def test_invalid_label_attribute_metadata_format(fakerek, project, line):
    line = changed(line, "source-ref", f"s3://{BUCKET}/x.jpg")
    entry = entry_of(fakerek, create(fakerek, project, manifest([*GOOD, line])), "x.jpg")
    attribute = "label0" if "label0" in entry else "bounding-box"
    assert codes(entry[f"{attribute}-metadata"]["cl-errors"]) == [
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
    ]


def test_metadata_that_is_not_an_object_is_reported_on_the_line(fakerek, project):
    line = changed(image_line("x.jpg", "cat"), "label0-metadata", "cat")
    entry = entry_of(fakerek, create(fakerek, project, manifest([*GOOD, line])), "x.jpg")
    assert codes(entry["cl-errors"]) == ["ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"]


@pytest.mark.parametrize(
    "line, where, code",
    [
        (
            changed(
                changed(BOX, "bounding-box-metadata/objects", [{"confidence": 1}]),
                "source-ref",
                f"s3://{BUCKET}/x.jpg",
            ),
            "bounding-box-metadata",
            "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE",
        ),
        (
            changed(
                changed(BOX, "bounding-box-metadata/class-map", {"0": "car"}),
                "source-ref",
                f"s3://{BUCKET}/x.jpg",
            ),
            "bounding-box-metadata",
            "ERROR_MISSING_CLASS_MAP_ID",
        ),
        (
            changed(image_line("x.jpg", "cat"), "label0-metadata/type", "groundtruth/other"),
            "label0-metadata",
            "ERROR_UNSUPPORTED_USE_CASE_TYPE",
        ),
        (image_line("x.jpg", "x" * 257), "label0-metadata", "ERROR_INVALID_LABEL_NAME_LENGTH"),
        (
            box_line("x.jpg", [("y" * 257, (1, 1, 10, 10))]),
            "bounding-box-metadata",
            "ERROR_INVALID_LABEL_NAME_LENGTH",
        ),
    ],
)
def test_metadata_level_codes(fakerek, project, line, where, code):
    entry = entry_of(fakerek, create(fakerek, project, manifest([*GOOD, line])), "x.jpg")
    assert code in codes(entry[where]["cl-errors"])


def test_unsupported_type_alone_means_no_valid_label_attributes(fakerek, project):
    line = changed(
        image_line("x.jpg", "cat"),
        "label0-metadata/type",
        "groundtruth/image-classification-multilabel",
    )
    entry = entry_of(fakerek, create(fakerek, project, manifest([*GOOD, line])), "x.jpg")
    assert codes(entry["cl-errors"]) == ["ERROR_NO_VALID_LABEL_ATTRIBUTES"]
    assert entry["label0-metadata"]["cl-errors"][0]["message"] == (
        "The use case type of the label0-metadata label attribute metadata is unsupported. "
        "Check the type field."
    )
    assert entry["cl-metadata"] == {"is_labeled": True}  # as in the guide's example entry


def test_annotation_level_codes_keep_the_line(fakerek, project):
    line = box_line(
        "x.jpg",
        [
            ("car", (700, 10, 200, 50)),  # off the 800-px frame
            ("car", (0, 0, 1, 1)),  # 1 px: too small
            ("bus", (10, 10, 100, 100)),
        ],
        size=(3000, 3000),
    )
    dataset = create(fakerek, project, manifest([*GOOD, line]))
    entry = entry_of(fakerek, dataset, "x.jpg")
    annotations = entry["bounding-box"]["annotations"]
    assert [codes(a.get("cl-errors", [])) for a in annotations] == [
        [],
        ["ERROR_BOUNDING_BOX_TOO_SMALL"],
        [],
    ]
    line = box_line("y.jpg", [("car", (700, 10, 200, 50)), ("bus", (10, 10, 100, 100))])
    dataset2 = fakerek.client().update_dataset_entries(
        DatasetArn=dataset, Changes={"GroundTruth": json.dumps(line)}
    )
    assert dataset2["ResponseMetadata"]["HTTPStatusCode"] == 200
    entry = entry_of(fakerek, dataset, "y.jpg")
    assert codes(entry["bounding-box"]["annotations"][0]["cl-errors"]) == [
        "ERROR_INVALID_BOUNDING_BOX"
    ]
    assert entry["cl-metadata"] == {"is_labeled": True}
    labels = fakerek.client().list_dataset_labels(DatasetArn=dataset)["DatasetLabelDescriptions"]
    assert {d["LabelName"]: d["LabelStats"] for d in labels}["bus"] == {
        "EntryCount": 2,
        "BoundingBoxCount": 2,
    }


def test_no_valid_annotations(fakerek, project):
    line = box_line("x.jpg", [("car", (-5, 10, 20, 20)), ("car", (790, 10, 20, 20))])
    entry = entry_of(fakerek, create(fakerek, project, manifest([*GOOD, line])), "x.jpg")
    assert codes(entry["bounding-box"]["cl-errors"]) == ["ERROR_NO_VALID_ANNOTATIONS"]
    assert codes(entry["cl-errors"]) == ["ERROR_NO_VALID_LABEL_ATTRIBUTES"]


def test_warnings_are_not_shown_in_entries(fakerek, project):
    empty = box_line("x.jpg", [])
    unannotated = {"source-ref": f"s3://{BUCKET}/y.jpg"}
    dataset = create(fakerek, project, manifest([*GOOD, empty, unannotated]))
    for name in ("x.jpg", "y.jpg"):
        entry = entry_of(fakerek, dataset, name)
        assert "cl-errors" not in json.dumps(entry)
        assert entry["cl-metadata"] == {"is_labeled": False}
    stats = description(fakerek, dataset)["DatasetStats"]
    assert stats == {"LabeledEntries": 8, "TotalEntries": 10, "TotalLabels": 2, "ErrorEntries": 0}


# -- terminal content errors: dropped lines -----------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "this is not json",
        "",
        "[1, 2]",
        json.dumps({"label": 1}),  # ERROR_MISSING_SOURCE_REF
        json.dumps(changed(image_line("x.jpg", "cat"), "source-ref", "https://x/y.jpg")),
        json.dumps(changed(image_line("x.jpg", "cat"), "source-ref", "s3://UPPER/y.jpg")),
        json.dumps(image_line("good0.jpg", "cat")),  # duplicate source-ref
        json.dumps({**image_line("long.jpg", "cat"), "pad": "x" * 100_000}),
    ],
)
def test_lines_with_terminal_content_errors_are_dropped(fakerek, project, bad):
    dataset = create(fakerek, project, manifest([*GOOD, bad]))
    assert description(fakerek, dataset)["DatasetStats"]["TotalEntries"] == 8
    first = entry_of(fakerek, dataset, "good0.jpg")
    assert first["label0-metadata"]["class-name"] == "dog"  # the first occurrence is kept


def test_too_many_dropped_lines_fail_the_import(fakerek, project):
    dataset = create(fakerek, project, manifest([*GOOD[:4], "x", "y"]))  # 2 of 6 > 20 %
    description_ = description(fakerek, dataset)
    assert description_["Status"] == "CREATE_FAILED"
    assert description_["StatusMessage"] == "The manifest file has too many terminal errors."
    assert description_["StatusMessageCode"] == "CLIENT_ERROR"
    assert description_["DatasetStats"] == {
        "LabeledEntries": 0,
        "TotalEntries": 0,
        "TotalLabels": 0,
        "ErrorEntries": 0,
    }
    ok = create(fakerek, project, manifest([*GOOD[:4], "x"]), kind="TEST")  # exactly 20 %
    assert description(fakerek, ok)["Status"] == "CREATE_COMPLETE"


# -- terminal file errors -----------------------------------------------------------------------


def _failed(fakerek, dataset: str) -> str:
    """The code whose message is the failed dataset's StatusMessage (the bare message)."""
    found = description(fakerek, dataset)
    assert found["Status"] == "CREATE_FAILED" and found["StatusMessageCode"] == "CLIENT_ERROR"
    by_message = {text: code for code, text in {**CONTENT_ERRORS, **FILE_ERRORS}.items()}
    return by_message[found["StatusMessage"]]


def test_missing_manifest_bucket_key_or_extension(fakerek, project):
    client = fakerek.client()
    for bucket, key in (("no-such-bucket", "a.manifest"), (BUCKET, "missing.manifest")):
        dataset = client.create_dataset(
            ProjectArn=project,
            DatasetType="TRAIN",
            DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}},
        )["DatasetArn"]
        assert _failed(fakerek, dataset) == "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"
        client.delete_dataset(DatasetArn=dataset)
    dataset = create(fakerek, project, manifest(GOOD), key="data/manifest")
    assert _failed(fakerek, dataset) == "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"


@pytest.mark.parametrize("body", [b"\xff\xfe not utf-8\n", manifest(GOOD).encode() + b"\x00\n"])
def test_contents_that_are_not_text(fakerek, project, body):
    assert _failed(fakerek, create(fakerek, project, body)) == (
        "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"
    )


@pytest.mark.parametrize("body", [b"", b"  \n\n \r\n"])
def test_empty_manifest(fakerek, project, body):
    assert _failed(fakerek, create(fakerek, project, body)) == "ERROR_EMPTY_MANIFEST"


def test_bom_and_crlf_are_accepted(fakerek, project):
    body = ("\ufeff" + manifest(GOOD).replace("\n", "\r\n")).encode()
    dataset = create(fakerek, project, body)
    assert description(fakerek, dataset)["DatasetStats"]["TotalEntries"] == 8


def test_size_rows_labels_and_permissions(fakerek, project):
    fakerek.configure(manifest_max_bytes=200)
    assert _failed(fakerek, create(fakerek, project, manifest(GOOD))) == (
        "ERROR_MANIFEST_SIZE_TOO_LARGE"
    )
    fakerek.reset()
    fakerek.client("s3").create_bucket(Bucket=BUCKET)
    project = fakerek.client().create_project(ProjectName="p")["ProjectArn"]
    fakerek.configure(manifest_max_rows=7)
    assert _failed(fakerek, create(fakerek, project, manifest(GOOD))) == (
        "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"
    )
    fakerek.configure(manifest_max_rows=8, manifest_max_labels=1)
    assert _failed(fakerek, create(fakerek, project, manifest(GOOD), kind="TEST")) == (
        "ERROR_MANIFEST_TOO_MANY_LABELS"
    )
    fakerek.reset()
    fakerek.client("s3").create_bucket(Bucket=BUCKET)
    project = fakerek.client().create_project(ProjectName="p")["ProjectArn"]
    fakerek.configure(s3_denied_buckets=f"other,{BUCKET}")
    assert _failed(fakerek, create(fakerek, project, manifest(GOOD))) == (
        "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET"
    )


def test_insufficient_images_for_distribute(fakerek, project):
    client = fakerek.client()
    train = create(
        fakerek, project, manifest([image_line("a.jpg", "cat"), image_line("b.jpg", "dog")])
    )
    test = client.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    client.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    for arn in (train, test):
        found = description(fakerek, arn)
        assert found["Status"] == "UPDATE_FAILED"
        assert found["StatusMessage"] == (
            "The manifest file doesn't have enough labeled images to distribute the dataset."
        )
    assert description(fakerek, train)["DatasetStats"]["TotalEntries"] == 2
