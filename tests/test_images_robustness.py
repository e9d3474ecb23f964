"""Issue 11: broken images and tampered model files get the service's errors, never a 500."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib

import pytest
from botocore.exceptions import ClientError
from conftest import error_of
from images import SHAPES, scene
from manifests import BUCKET, image_line, project_from
from PIL import Image

from fakerek.domain import images
from fakerek.testing import FakerekServer


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG whose header declares `width`×`height` (its pixel data is a few bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        images.PNG
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def corrupt_idat(png: bytes) -> bytes:
    """The PNG with bytes of its first IDAT chunk's data flipped (its checksum fixed up, so
    only decoding the data can tell)."""
    start = png.index(b"IDAT")
    (length,) = struct.unpack(">I", png[start - 4 : start])
    data = bytearray(png[start + 4 : start + 4 + length])
    for k in range(10, min(len(data), 60)):
        data[k] ^= 0x5A
    return png[: start - 4] + _chunk(b"IDAT", bytes(data)) + png[start + 8 + length :]


JPEG, _ = scene(7, ["circle"], size=(640, 480))
PNG, _ = scene(7, ["circle"], size=(640, 480), kind="PNG")
BROKEN = {
    "truncated JPEG": JPEG[: len(JPEG) // 2],
    "JPEG missing its last bytes": JPEG[:-40],
    "truncated PNG": PNG[: len(PNG) // 2],
    "PNG with a corrupt IDAT": corrupt_idat(PNG),
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_images_are_invalid_images(name):
    data = BROKEN[name]
    assert images.dimensions(data) == (640, 480)  # the header alone looks fine
    with pytest.raises(images.ImageProblem) as excinfo:
        images.decode(data, 224)
    assert excinfo.value.problem == "format"
    assert images.check(data, box_line=False) == "ERROR_INVALID_IMAGE"
    assert images.check(data, box_line=True) == "ERROR_INVALID_IMAGE"


def test_resolution_is_checked_before_any_decode():
    data = huge_png()
    assert images.dimensions(data) == (50_000, 50_000)  # no decompression-bomb refusal first
    with pytest.raises(images.ImageProblem) as excinfo:
        images.decode(data, 224)
    assert excinfo.value.problem == "resolution"
    assert images.check(data, box_line=True) == "ERROR_INVALID_IMAGE_DIMENSION"
    assert images.LIMITS.max_side**2 == Image.MAX_IMAGE_PIXELS  # set deliberately
    assert images.check(JPEG, box_line=False) is None


def _train(client, s3, name: str, lines: list) -> tuple[str, str]:
    project = project_from(client, s3, name, lines)
    version = client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": "out"}
    )["ProjectVersionArn"]
    return project, version


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained on 30 good images and one truncated JPEG, running."""
    with FakerekServer(str(tmp_path_factory.mktemp("robust"))) as server:
        client, s3 = server.client(), server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket="out")
        lines = []
        for i in range(30):
            data, _ = scene(300 + i, [SHAPES[i % 3]])
            s3.put_object(Bucket=BUCKET, Key=f"ok{i}.jpg", Body=data)
            lines.append(image_line(f"ok{i}.jpg", SHAPES[i % 3]))
        s3.put_object(Bucket=BUCKET, Key="broken.jpg", Body=BROKEN["truncated JPEG"])
        lines.insert(7, image_line("broken.jpg", "circle"))
        project, version = _train(client, s3, "robust", lines)
        client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
        yield {"server": server, "client": client, "s3": s3, "version": version, "project": project}


def _describe(trained) -> dict:
    return trained["client"].describe_project_versions(
        ProjectArn=trained["project"], VersionNames=["v1"]
    )["ProjectVersionDescriptions"][0]


def test_one_truncated_image_is_flagged_and_the_rest_trains(trained):
    s3 = trained["s3"]
    found = _describe(trained)
    assert found["Status"] == "RUNNING"
    lines = []
    for result in ("TrainingDataResult", "TestingDataResult"):  # wherever the split put it
        location = found[result]["Validation"]["Assets"][0]["GroundTruthManifest"]["S3Object"]
        body = s3.get_object(Bucket=location["Bucket"], Key=location["Name"])["Body"].read()
        lines += [json.loads(row) for row in body.decode().splitlines()]
    flagged = {
        line["source-ref"]: [error["code"] for error in line["errors"]]
        for line in lines
        if line.get("errors")
    }
    assert flagged == {f"s3://{BUCKET}/broken.jpg": ["ERROR_INVALID_IMAGE"]}


@pytest.mark.parametrize("name", BROKEN)
def test_detection_of_a_broken_image_is_an_invalid_format(trained, name):
    with pytest.raises(ClientError) as excinfo:
        trained["client"].detect_custom_labels(
            ProjectVersionArn=trained["version"], Image={"Bytes": BROKEN[name]}
        )
    error = error_of(excinfo)
    assert (error["Code"], error["Message"], error["Status"]) == (
        "InvalidImageFormatException",
        "Request has invalid image format",
        400,
    )


def test_a_huge_declared_resolution_is_too_large(trained):
    with pytest.raises(ClientError) as excinfo:
        trained["client"].detect_custom_labels(
            ProjectVersionArn=trained["version"], Image={"Bytes": huge_png()}
        )
    assert error_of(excinfo)["Code"] == "ImageTooLargeException"


def _model_json(trained) -> str:
    models = os.path.join(trained["server"].data_dir, "models")
    [folder] = os.listdir(models)
    return os.path.join(models, folder, "model.json")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda meta: meta["labels"].append("extra"), id="a label more than the head"),
        pytest.param(lambda meta: meta["labels"].pop(), id="a label fewer than the head"),
        pytest.param(
            lambda meta: meta["thresholds"].update({"circle": "high"}), id="a threshold as text"
        ),
        pytest.param(
            lambda meta: meta["familiarity"].update({"radius": None}), id="a range that is null"
        ),
        pytest.param(lambda meta: meta.update({"backbone": "int4"}), id="an unknown backbone"),
    ],
)
def test_a_tampered_model_fails_its_start(trained, tamper):
    client, version = trained["client"], trained["version"]
    path = _model_json(trained)
    shutil.copy(path, f"{path}.good")
    try:
        client.stop_project_version(ProjectVersionArn=version)
        assert _describe(trained)["Status"] == "STOPPED"
        with open(path, encoding="utf-8") as handle:
            meta = json.load(handle)
        tamper(meta)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(meta, handle)
        client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
        found = _describe(trained)
        assert (found["Status"], found["StatusMessage"]) == ("FAILED", "The model failed to start.")
    finally:
        shutil.move(f"{path}.good", path)
        client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    assert _describe(trained)["Status"] == "RUNNING"
    labels = client.detect_custom_labels(
        ProjectVersionArn=version, Image={"Bytes": scene(999, ["square"])[0]}, MinConfidence=0
    )["CustomLabels"]
    assert labels[0]["Name"] == "square"


def test_a_damaged_head_fails_its_start(trained):
    client, version = trained["client"], trained["version"]
    head = os.path.join(os.path.dirname(_model_json(trained)), "head.npz")
    shutil.copy(head, f"{head}.good")
    try:
        client.stop_project_version(ProjectVersionArn=version)
        with open(head, "r+b") as handle:
            handle.truncate(100)
        client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
        assert _describe(trained)["Status"] == "FAILED"
    finally:
        shutil.move(f"{head}.good", head)
        client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    assert _describe(trained)["Status"] == "RUNNING"
