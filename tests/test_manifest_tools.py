"""`fakerek manifest`: converters and the validator, run as a user runs them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from manifests import BUCKET, box_line, image_line, manifest
from PIL import Image


def tool(*args: str, endpoint: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    extra = ["--endpoint-url", endpoint] if endpoint else []
    return subprocess.run(
        [sys.executable, "-m", "fakerek", "manifest", *args, *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def picture(width: int, height: int, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, kind)
    return out.getvalue()


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_from_csv(tmp_path):
    source = tmp_path / "pets.csv"
    source.write_text("cat1.jpg,cat\ndog1.jpg,dog,outdoor\n\nplain.jpg\n")
    result = tool("from-csv", str(source), "--s3-path", "s3://images/pets/")
    assert result.returncode == 0, result.stderr
    assert "3 images, 3 labels" in result.stdout
    written = lines_of(tmp_path / "pets.manifest")
    assert [line["source-ref"] for line in written] == [
        "s3://images/pets/cat1.jpg",
        "s3://images/pets/dog1.jpg",
        "s3://images/pets/plain.jpg",
    ]
    assert written[1]["outdoor-metadata"]["class-name"] == "outdoor"
    assert written[1]["outdoor-metadata"]["type"] == "groundtruth/image-classification"
    checked = tool("validate", str(tmp_path / "pets.manifest"), "--no-images")
    assert checked.returncode == 0, checked.stdout
    assert "3 lines: 2 valid, 0 invalid, 1 ignored" in checked.stdout
    assert "line 3: WARNING_UNANNOTATED_RECORD: Record is unannotated." in checked.stdout


def test_from_csv_stops_on_duplicates(tmp_path):
    source = tmp_path / "dups.csv"
    source.write_text("a.jpg,cat\nb.jpg,dog\na.jpg,bird\n")
    result = tool("from-csv", str(source), "--s3-path", "s3://images/")
    assert result.returncode == 1 and "1 duplicate image(s)" in result.stderr
    assert not (tmp_path / "dups.manifest").exists()
    assert (tmp_path / "dups-duplicates.csv").read_text().strip() == "a.jpg,bird"
    assert (tmp_path / "dups-deduplicated.csv").read_text().splitlines() == [
        "a.jpg,cat",
        "b.jpg,dog",
    ]


def test_from_csv_needs_s3_uris(tmp_path):
    source = tmp_path / "bare.csv"
    source.write_text("a.jpg,cat\n")
    result = tool("from-csv", str(source))
    assert result.returncode == 2 and "not an S3 URI" in result.stderr


def test_from_groundtruth(tmp_path):
    job = {
        "source-ref": "s3://images/a.jpg",
        "sports": [0, 2],
        "sports-metadata": {
            "class-map": {"0": "ball", "2": "net"},
            "confidence-map": {"0": 0.9, "2": 0.8},
            "job-name": "j",
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
            "type": "groundtruth/image-classification-multilabel",
        },
    }
    (tmp_path / "output.manifest").write_text(json.dumps(job) + "\n")
    result = tool("from-groundtruth", "output.manifest", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = lines_of(tmp_path / "custom_labels_output.manifest")
    assert line["sports0"] == 0 and line["sports1"] == 1
    assert line["sports1-metadata"]["class-name"] == "net"
    assert line["sports1-metadata"]["confidence"] == 0.8
    assert line["sports1-metadata"]["type"] == "groundtruth/image-classification"
    bad = tmp_path / "bad.manifest"
    bad.write_text('{"source-ref": "s3://images/a.jpg"}\n')
    result = tool("from-groundtruth", str(bad), cwd=tmp_path)
    assert result.returncode == 2 and "line 1" in result.stderr


def test_from_coco_and_upload(fakerek, tmp_path):
    fakerek.client("s3").create_bucket(Bucket=BUCKET)
    coco = {
        "images": [
            {
                "id": 1,
                "width": 640,
                "height": 480,
                "file_name": "a.jpg",
                "date_captured": "2013-11-18 02:53:27",
            },
            {
                "id": 2,
                "width": 640,
                "height": 480,
                "file_name": "b.jpg",
                "date_captured": "2013-11-18 02:53:27",
            },
        ],
        "annotations": [{"image_id": 1, "category_id": 3, "bbox": [10.5, 20, 100, 50]}],
        "categories": [{"id": 3, "name": "car"}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    result = tool(
        "from-coco",
        "coco.json",
        "--bucket",
        BUCKET,
        "--image-prefix",
        "pics/",
        "--upload",
        "manifests/coco.manifest",
        endpoint=fakerek.endpoint,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    first, second = lines_of(tmp_path / "custom_labels.manifest")
    assert first["source-ref"] == f"s3://{BUCKET}/pics/a.jpg"
    assert first["bounding-box"]["annotations"] == [
        {"left": 10.5, "top": 20, "width": 100, "height": 50, "class_id": 3}
    ]
    assert first["bounding-box-metadata"]["class-map"] == {"3": "car"}
    assert first["bounding-box-metadata"]["creation-date"] == "2013-11-18T02:53:27"
    assert second["bounding-box"]["annotations"] == []
    uploaded = fakerek.client("s3").get_object(Bucket=BUCKET, Key="manifests/coco.manifest")
    assert uploaded["Body"].read().decode().count("\n") == 2


def test_validate_checks_images_on_s3(fakerek, tmp_path):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="ok.png", Body=picture(128, 96))
    s3.put_object(Bucket=BUCKET, Key="ok.jpg", Body=picture(128, 96, "JPEG"))
    s3.put_object(Bucket=BUCKET, Key="tiny.png", Body=picture(32, 32))
    s3.put_object(Bucket=BUCKET, Key="thin.png", Body=picture(2100, 100))
    s3.put_object(Bucket=BUCKET, Key="anim.gif", Body=picture(128, 128, "GIF"))
    lines = [
        image_line("ok.png", "cat"),
        image_line("ok.jpg", "dog"),
        image_line("tiny.png", "cat"),
        box_line("tiny.png", [("car", (1, 1, 10, 10))], size=(128, 128)),
        image_line("thin.png", "cat"),
        image_line("anim.gif", "cat"),
        image_line("missing.png", "cat"),
        box_line("ok.png", [], size=(128, 96)),
        "not json",
    ]
    lines[3]["source-ref"] = f"s3://{BUCKET}/tiny.png?box"  # a different key: not a duplicate
    s3.put_object(Bucket=BUCKET, Key="tiny.png?box", Body=picture(32, 32))
    path = tmp_path / "check.manifest"
    path.write_text(manifest(lines))
    result = tool("validate", str(path), endpoint=fakerek.endpoint)
    out = result.stdout
    assert "line 3: ERROR_INVALID_IMAGE: " in out
    assert "line 4: ERROR_INVALID_IMAGE_DIMENSION: " in out
    assert "line 5: ERROR_INVALID_IMAGE: " in out
    assert "line 6: ERROR_INVALID_IMAGE: " in out
    assert "line 7: ERROR_INVALID_IMAGE: " in out
    assert "line 8: ERROR_INVALID_JSON_LINE: " in out  # ok.png again: a duplicate source-ref
    assert "line 9: ERROR_INVALID_JSON_LINE: The JSON Line has an invalid format." in out
    assert "9 lines: 2 valid, 7 invalid, 0 ignored" in out
    assert (
        "terminal: ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST: The manifest file contains too "
        "many invalid rows."
    ) in out
    assert result.returncode == 1


def test_validate_an_s3_manifest_and_warnings(fakerek):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=picture(100, 100))
    s3.put_object(Bucket=BUCKET, Key="b.png", Body=picture(100, 100))
    s3.put_object(Bucket=BUCKET, Key="c.png", Body=picture(100, 100))
    lines = [
        image_line("a.png", "cat"),
        box_line("b.png", [], size=(100, 100)),
        image_line("c.png", "dog"),
    ]
    s3.put_object(Bucket=BUCKET, Key="m/train.manifest", Body=manifest(lines))
    result = tool("validate", f"s3://{BUCKET}/m/train.manifest", endpoint=fakerek.endpoint)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "line 2: WARNING_NO_ATTRIBUTE_ANNOTATIONS: No attribute annotations were found. "
        "(attribute bounding-box)"
    ) in result.stdout
    assert "line 2: WARNING_NO_ANNOTATIONS: No annotations were found." in result.stdout
    missing = tool("validate", f"s3://{BUCKET}/m/none.manifest", endpoint=fakerek.endpoint)
    assert missing.returncode == 1
    assert "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT" in missing.stdout


def test_validate_reports_source_ref_errors_in_training_context(tmp_path):
    path = tmp_path / "refs.manifest"
    path.write_text(
        manifest(
            [
                image_line("a.jpg", "cat"),
                image_line("b.jpg", "dog"),
                {"label": 1},
                {**image_line("c.jpg", "cat"), "source-ref": "c.jpg"},
            ]
        )
    )
    result = tool("validate", str(path), "--no-images")
    assert "line 3: ERROR_MISSING_SOURCE_REF: The source-ref key is missing." in result.stdout
    assert (
        "line 4: ERROR_INVALID_SOURCE_REF_FORMAT: The format of the source-ref value is invalid."
    ) in result.stdout
    assert "terminal: ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" in result.stdout


def test_validate_in_import_context_counts_dropped_lines(tmp_path):
    path = tmp_path / "import.manifest"
    path.write_text(
        manifest(
            [
                image_line("a.jpg", "cat"),
                image_line("a.jpg", "dog"),
                {"no": "source"},
                image_line("b.jpg", "x" * 300),
            ]
        )
    )
    result = tool("validate", str(path), "--context", "import", "--no-images")
    assert "4 lines: 1 valid, 1 invalid, 0 ignored, 2 dropped by CreateDataset" in result.stdout
    assert "line 4: ERROR_INVALID_LABEL_NAME_LENGTH" in result.stdout
    assert "terminal: ERROR_TOO_MANY_RECORDS_IN_ERROR" in result.stdout
    assert result.returncode == 1


@pytest.mark.parametrize(
    "content, code",
    [
        (b"", "ERROR_EMPTY_MANIFEST"),
        (b"\xff\xfe\x00", "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"),
    ],
)
def test_validate_file_errors(tmp_path, content, code):
    path = tmp_path / "bad.manifest"
    path.write_bytes(content)
    result = tool("validate", str(path), "--no-images")
    assert result.returncode == 1 and code in result.stdout
    no_extension = tmp_path / "manifest"
    no_extension.write_bytes(content)
    result = tool("validate", str(no_extension), "--no-images")
    assert "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT" in result.stdout
