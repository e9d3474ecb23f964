"""Issue 21: the trained-model cache. A training whose inputs were trained on before, in any data
directory sharing the cache directory, writes the same model files byte for byte and the same
artefacts (rendered for the new version) and answers detections the same; a changed image,
line, setting or backbone misses; a damaged entry is ignored and removed; deleting the cache
directory while a server runs is safe; the bound holds."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
import shutil

import pytest
from conftest import answers_while_running
from images import SHAPES, scene
from manifests import box_line, image_line, manifest

from fakerek.jobs import cached_training
from fakerek.manifests.training import TrainingLimits
from fakerek.ml.model_cache import FOLDER, SUFFIX, Entry, ModelCache
from fakerek.testing import FakerekServer

HIT = "the training's model and artefacts come from the model cache"
STAMP = re.compile(rb'"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6})"')
TRAIN = [(SHAPES[i % 3], scene(700 + i, [SHAPES[i % 3]])[0]) for i in range(15)]
TEST = [(SHAPES[i % 3], scene(800 + i, [SHAPES[i % 3]])[0]) for i in range(6)]
PROBES = [scene(900 + i, [SHAPES[i % 3]])[0] for i in range(4)]
BOXES_TRAIN = [scene(1700 + i, [SHAPES[i % 3], SHAPES[(i + 1) % 3]])[::-1] for i in range(12)]
BOXES_TEST = [scene(1800 + i, [SHAPES[i % 3], SHAPES[(i + 1) % 3]])[::-1] for i in range(6)]


# -- the store ----------------------------------------------------------------------------------


def _entry(size: int, tag: bytes = b"x") -> Entry:
    return Entry({"tag": tag.decode()}, {"model/head.npz": tag * size})


def test_an_entry_reads_back_whole(tmp_path):
    cache = ModelCache(str(tmp_path), 1 << 20)
    entry = Entry({"a": [1, "b"]}, {"model/x": b"\x00\x01", "artefact/y-": "é".encode()})
    cache.put("k", entry)
    assert cache.get("k") == entry
    assert cache.get("other") is None
    assert ModelCache.of(str(tmp_path), 0) is None and ModelCache.of("", 1) is None


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_entry_is_not_used_and_is_removed(tmp_path, damage):
    cache = ModelCache(str(tmp_path), 1 << 20)
    cache.put("k", _entry(1000))
    path = tmp_path / FOLDER / f"k{SUFFIX}"
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncate":
        data = data[:-10]
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert cache.get("k") is None
    assert not path.exists()


def test_the_bound_holds_least_recently_used_first_out(tmp_path):
    size = len(_entry(1000).encode())
    cache = ModelCache(str(tmp_path), 3 * size)
    for index, key in enumerate("abc"):
        cache.put(key, _entry(1000, key.encode()))
        os.utime(tmp_path / FOLDER / f"{key}{SUFFIX}", ns=(index, index))  # a, b, c in order
    assert cache.get("a") is not None  # used now: b is the least recently used
    cache.put("d", _entry(1000, b"d"))
    assert [cache.get(key) is not None for key in "abcd"] == [True, False, True, True]
    assert cache.size_bytes() <= 3 * size
    cache.put("huge", _entry(4 * size))  # larger than the whole bound: not kept, nothing evicted
    assert cache.get("huge") is None and cache.size_bytes() == 3 * size


def test_a_deleted_cache_directory_is_a_miss_and_comes_back(tmp_path):
    cache = ModelCache(str(tmp_path / "cache"), 1 << 20)
    assert cache.get("k") is None and cache.size_bytes() == 0 and cache.prune() == 0
    cache.put("k", _entry(10))
    shutil.rmtree(tmp_path / "cache")
    assert cache.get("k") is None
    cache.put("k", _entry(10))
    assert cache.get("k") == _entry(10)


def test_the_key_covers_every_determinant():
    lines = [json.dumps(image_line(f"{i}.jpg", SHAPES[i % 3])) for i in range(4)]
    base = cached_training.Determinants("int8", True, TrainingLimits(), frozenset())
    key = cached_training.key_of(lines, lines[:2], base)
    relabelled = [lines[0].replace("circle", "square"), *lines[1:]]
    variants = [
        cached_training.key_of(relabelled, lines[:2], base),
        cached_training.key_of(lines, lines[:1], base),
        cached_training.key_of(lines[:2], lines, base),
        cached_training.key_of(lines, None, base),  # auto-split
        cached_training.key_of(lines, lines[:2], base._replace(precision="float32")),
        cached_training.key_of(lines, lines[:2], base._replace(mirrored=False)),
        cached_training.key_of(
            lines, lines[:2], base._replace(limits=TrainingLimits(max_labels=2))
        ),
        cached_training.key_of(lines, lines[:2], base._replace(denied=frozenset({"images"}))),
    ]
    assert len({key, *variants}) == len(variants) + 1
    assert cached_training.key_of(list(lines), lines[:2], base) == key


# -- through servers ----------------------------------------------------------------------------


def _server(tmp_path, name: str, cache_dir: str) -> FakerekServer:
    return FakerekServer(str(tmp_path / name), args=["--cache-dir", cache_dir])


def _box_line(key: str, boxes: list, bucket: str) -> dict:
    pixels = [(label, (b[0], b[1], b[2] - b[0], b[3] - b[1])) for label, b in boxes]
    return {**box_line(key, pixels, size=(320, 240)), "source-ref": f"s3://{bucket}/{key}"}


def _upload(server, bucket: str, train=TRAIN, test=TEST, line=image_line) -> dict:
    """The images (label or boxes, bytes) and their two manifests in `bucket`; the
    CreateProjectVersion data."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    assets = {}
    for side, images in (("train", train), ("test", test)):
        lines = []
        for i, (label, data) in enumerate(images):
            s3.put_object(Bucket=bucket, Key=f"{side}/{i}.jpg", Body=data)
            lines.append(line(f"{side}/{i}.jpg", label, bucket=bucket))
        s3.put_object(Bucket=bucket, Key=f"{side}.manifest", Body=manifest(lines))
        s3_object = {"Bucket": bucket, "Name": f"{side}.manifest"}
        assets[side] = {"Assets": [{"GroundTruthManifest": {"S3Object": s3_object}}]}
    return {"TrainingData": assets["train"], "TestingData": assets["test"]}


def _train(server, bucket: str, project: str, version: str, prefix: str, data: dict) -> dict:
    client = server.client()
    arn = client.create_project(ProjectName=project)["ProjectArn"]
    client.create_project_version(
        ProjectArn=arn,
        VersionName=version,
        OutputConfig={"S3Bucket": bucket, "S3KeyPrefix": prefix},
        **data,
    )
    client.get_waiter("project_version_training_completed").wait(
        ProjectArn=arn, VersionNames=[version], WaiterConfig={"Delay": 1}
    )
    [found] = client.describe_project_versions(ProjectArn=arn, VersionNames=[version])[
        "ProjectVersionDescriptions"
    ]
    return {**found, "project": arn}  # the project's ARN, for the running waiter


def _hits(server) -> int:
    return server.log().count(HIT)


def _entries(cache_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(cache_dir, FOLDER, f"*{SUFFIX}")))


def _artefacts(server, version: dict) -> dict[str, bytes]:
    """The version's files under its OutputConfig, by name without prefix, project, version."""
    s3 = server.client("s3")
    output = version["OutputConfig"]
    project, name = version["ProjectVersionArn"].split("/")[1::2][:2]
    found = {}
    for item in s3.list_objects_v2(Bucket=output["S3Bucket"], Prefix=output["S3KeyPrefix"])[
        "Contents"
    ]:
        stem = (
            item["Key"].removeprefix(output["S3KeyPrefix"]).removesuffix(f"{project}-{name}.json")
        )
        found[stem] = s3.get_object(Bucket=output["S3Bucket"], Key=item["Key"])["Body"].read()
    return found


def _model_files(server) -> dict[str, bytes]:
    """The files of the one model the server's data directory holds."""
    [folder] = glob.glob(os.path.join(server.data_dir, "models", "*"))
    found = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as handle:
            found[name] = handle.read()
    return found


def _detections(server, version: dict) -> list:
    return answers_while_running(
        server.client(), version["project"], version["ProjectVersionArn"], PROBES
    )


def _without_version(body: bytes, version: dict) -> tuple[bytes, list[dt.datetime]]:
    """The body with the version's ARN and the times it was written at as markers; the times."""
    arn = json.dumps(version["ProjectVersionArn"]).encode()
    stamps = [
        dt.datetime.strptime(s.decode(), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.UTC)
        for s in STAMP.findall(body)
    ]
    return STAMP.sub(b'"<now>"', body.replace(arn, b'"<arn>"')), stamps


@pytest.fixture(scope="module")
def first(tmp_path_factory, cache_dir):
    """A training computed on a server of its own: its description, files and detections."""
    folder = tmp_path_factory.mktemp("first")
    with _server(folder, "data", cache_dir) as server:
        data = _upload(server, "shots")
        version = _train(server, "shots", "shapes", "v1", "out/", data)
        assert version["Status"] == "TRAINING_COMPLETED" and _hits(server) == 0
        assert len(_entries(cache_dir)) == 1
        return {
            "version": version,
            "artefacts": _artefacts(server, version),
            "model": _model_files(server),
            "detections": _detections(server, version),
            "entry": _entries(cache_dir)[0],
        }


def test_a_rerun_in_a_fresh_data_dir_writes_the_same_files(tmp_path, cache_dir, first):
    with _server(tmp_path, "data", cache_dir) as server:
        data = _upload(server, "shots")
        # another project, version and prefix: the artefacts are rendered for the new version
        version = _train(server, "shots", "again", "ci-run", "elsewhere/", data)
        assert _hits(server) == 1 and len(_entries(cache_dir)) == 1
        assert version["Status"] == first["version"]["Status"] == "TRAINING_COMPLETED"
        assert version["StatusMessage"] == first["version"]["StatusMessage"]
        assert (
            version["EvaluationResult"]["F1Score"]
            == first["version"]["EvaluationResult"]["F1Score"]
        )
        summary = version["EvaluationResult"]["Summary"]["S3Object"]["Name"]
        assert summary == "elsewhere/EvaluationResultSummary-again-ci-run.json"
        assert version["TrainingDataResult"]["Validation"]["Assets"][0]["GroundTruthManifest"][
            "S3Object"
        ]["Name"] == ("elsewhere/TrainingManifestWithValidation-again-ci-run.json")
        assert _model_files(server) == first["model"]  # byte for byte
        artefacts = _artefacts(server, version)
        assert sorted(artefacts) == sorted(first["artefacts"]) and len(artefacts) == 6
        created = version["CreationTimestamp"]
        for stem, body in artefacts.items():
            rerun, stamps = _without_version(body, version)
            computed, _ = _without_version(first["artefacts"][stem], first["version"])
            assert rerun == computed, stem
            ended = version["TrainingEndTimestamp"] + dt.timedelta(milliseconds=1)  # ms precision
            assert all(created <= stamp <= ended for stamp in stamps), stem
            assert bool(stamps) == (stem in ("EvaluationResultSummary-", "TestingGroundTruth-"))
        assert b"<arn>" in _without_version(artefacts["EvaluationResultSummary-"], version)[0]
        assert _detections(server, version) == first["detections"]


def test_a_hit_keeps_the_realistic_training_delay(tmp_path, cache_dir, first):
    with _server(tmp_path, "data", cache_dir) as server:
        data = _upload(server, "shots")
        server.configure(timing="realistic", delays={"training": 2})
        client = server.client()
        project = client.create_project(ProjectName="shapes")["ProjectArn"]
        client.create_project_version(
            ProjectArn=project,
            VersionName="v1",
            OutputConfig={"S3Bucket": "shots", "S3KeyPrefix": "out/"},
            **data,
        )
        [found] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        assert found["Status"] == "TRAINING_IN_PROGRESS"
        client.get_waiter("project_version_training_completed").wait(
            ProjectArn=project, WaiterConfig={"Delay": 1}
        )
        [found] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        assert _hits(server) == 1
        assert found["Status"] == "TRAINING_COMPLETED"
        took = found["TrainingEndTimestamp"] - found["CreationTimestamp"]
        assert took >= dt.timedelta(seconds=2)
        assert found["BillableTrainingTimeInSeconds"] == round(took.total_seconds())


def _one_byte_changed(jpeg: bytes) -> bytes:
    """The same pixels, one byte different: the JFIF header's horizontal density."""
    assert jpeg[6:11] == b"JFIF\x00"
    return jpeg[:15] + bytes([jpeg[15] ^ 0x02]) + jpeg[16:]


def _relabelled() -> list:
    label = next(s for s in SHAPES if s != TRAIN[0][0])
    return [(label, TRAIN[0][1]), *TRAIN[1:]]


# What differs from the first training (settings, training images); whether it hits; whether it
# adds an entry (the same lines and settings find the first training's entry, but an image that
# changed makes it unusable: the training computes and its entry replaces the first's).
CHANGES = {
    "training threads, embedding store": (
        {"training_threads": 1, "embedding_store_mb": 0},
        TRAIN,
        (1, 0),
    ),
    "one byte of one image": (
        {},
        [(TRAIN[0][0], _one_byte_changed(TRAIN[0][1])), *TRAIN[1:]],
        (0, 0),
    ),
    "the first training's images again": ({}, TRAIN, (0, 0)),
    "one line's label": ({}, _relabelled(), (0, 1)),
    "mirror images no more": ({"mirror_max_images": len(TRAIN) - 1}, TRAIN, (0, 1)),
    "the float32 backbone": ({"backbone": "float32"}, TRAIN, (0, 1)),
}


def test_what_determines_a_training_is_what_it_hits_on(tmp_path, cache_dir, first):
    with _server(tmp_path, "data", cache_dir) as server:
        for change, (settings, images, (hit, added)) in CHANGES.items():
            server.reset()  # no resources, no objects, start-up settings
            server.configure(**settings)
            entries, hits = len(_entries(cache_dir)), _hits(server)
            version = _train(server, "shots", "p", "v1", "out/", _upload(server, "shots", images))
            assert version["Status"] == "TRAINING_COMPLETED", change
            assert _hits(server) == hits + hit, change
            assert len(_entries(cache_dir)) == entries + added, change
        assert server.log().count("an image changed since the entry was made") == 2


def test_a_damaged_entry_is_ignored_and_removed(tmp_path, cache_dir, first):
    with open(first["entry"], "rb") as handle:
        whole = handle.read()
    damaged = bytearray(whole)
    damaged[len(damaged) // 2] ^= 0x10
    with open(first["entry"], "wb") as handle:
        handle.write(damaged)
    with _server(tmp_path, "data", cache_dir) as server:
        version = _train(server, "shots", "shapes", "v1", "out/", _upload(server, "shots"))
        assert version["Status"] == "TRAINING_COMPLETED" and _hits(server) == 0
        assert "is damaged" in server.log()
        assert "21/21 images (21 embedded)" in server.log()  # computed
        assert (
            version["EvaluationResult"]["F1Score"]
            == first["version"]["EvaluationResult"]["F1Score"]
        )
        assert _detections(server, version) == first["detections"]
        with open(first["entry"], "rb") as handle:  # stored again, whole
            entry = Entry.decode(handle.read())
        assert {n.removeprefix("model/") for n in entry.blobs if n.startswith("model/")} == set(
            first["model"]
        )


def test_deleting_the_cache_dir_while_the_server_runs_is_safe(tmp_path, cache_dir, first):
    own_cache = str(tmp_path / "cache")
    shutil.copytree(cache_dir, own_cache)
    with _server(tmp_path, "data", own_cache) as server:
        data = _upload(server, "shots")
        assert _train(server, "shots", "a", "v1", "out/", data)["Status"] == "TRAINING_COMPLETED"
        assert _hits(server) == 1
        shutil.rmtree(own_cache)  # while the server runs, between two trainings
        assert _train(server, "shots", "b", "v1", "out/", data)["Status"] == "TRAINING_COMPLETED"
        assert _hits(server) == 1 and len(_entries(own_cache)) == 1  # computed, kept again
        assert _train(server, "shots", "c", "v1", "out/", data)["Status"] == "TRAINING_COMPLETED"
        assert _hits(server) == 2


def test_a_localisation_model_comes_back_the_same(tmp_path, cache_dir):
    found = {}
    for run in ("computed", "rerun"):
        with _server(tmp_path, run, cache_dir) as server:
            data = _upload(server, "boxes", BOXES_TRAIN, BOXES_TEST, _box_line)
            version = _train(server, "boxes", "boxes", "v1", "out/", data)
            assert version["Status"] == "TRAINING_COMPLETED"
            assert _hits(server) == (run == "rerun")
            artefacts = {
                stem: _without_version(body, version)[0]
                for stem, body in _artefacts(server, version).items()
            }
            found[run] = (_model_files(server), artefacts, _detections(server, version))
    assert "detector.npz" in found["rerun"][0]
    assert found["rerun"] == found["computed"]
    assert any(labels for labels in found["computed"][2])  # boxes were found
