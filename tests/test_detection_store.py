"""Issue 21: the detection store. A server in a fresh data directory sharing the cache directory
answers DetectCustomLabels on images an earlier server saw exactly as that server did, without
running the backbone (its closing log line counts the hits); a damaged entry is ignored, removed
and written again whole; 0 MB or no cache directory writes nothing; another backbone misses."""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3

import numpy as np
import pytest
from conftest import answers_while_running
from images import SHAPES, scene
from manifests import image_line, manifest

from fakerek.ml import graph
from fakerek.ml.detection_store import FILE_NAME, DetectionStore
from fakerek.ml.embedding_store import checksum
from fakerek.testing import FakerekServer

TRAIN = [(SHAPES[i % 3], scene(2700 + i, [SHAPES[i % 3]])[0]) for i in range(15)]
TEST = [(SHAPES[i % 3], scene(2800 + i, [SHAPES[i % 3]])[0]) for i in range(6)]
PROBES = [scene(2900 + i, [SHAPES[i % 3]])[0] for i in range(5)]
MB = 1 << 20
SUMMARY = re.compile(r"detection store \S+: (\d+) hits, (\d+) misses, (\d+) entries written")


# -- the store in-process -------------------------------------------------------------------------


def _vectors(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((1, graph.FEATURES)).astype(np.float32)


def test_what_is_put_is_read_back_by_the_next_store(tmp_path):
    store = DetectionStore(str(tmp_path))
    assert store.get("bb", b"a" * 32, MB) is None  # opens the file
    store.put("bb", b"a" * 32, _vectors(1), MB)
    store.put("bb", b"b" * 32, _vectors(2), MB)
    store.close()  # writes what is queued
    assert store.get("bb", b"a" * 32, MB) is None  # closed: off
    again = DetectionStore(str(tmp_path))
    found = again.get("bb", b"a" * 32, MB)
    assert found is not None and np.array_equal(found, _vectors(1)) and found.shape == (1, 2560)
    assert again.get("other backbone", b"a" * 32, MB) is None
    again.close()
    assert (again.counts.hits, again.counts.misses) == (1, 1)


def test_the_bound_holds_after_the_writes(tmp_path):
    store = DetectionStore(str(tmp_path))
    size = _vectors(0).nbytes
    for index in range(5):
        store.put("bb", bytes([index]) * 32, _vectors(index), 2 * size)
    store.close()
    assert _rows(str(tmp_path / FILE_NAME)) == 2


def test_a_store_turned_off_writes_nothing(tmp_path):
    for store in (DetectionStore(str(tmp_path)), DetectionStore("")):
        store.put("bb", b"a" * 32, _vectors(1), 0 if store.path else MB)
        assert store.get("bb", b"a" * 32, 0 if store.path else MB) is None
        store.close()
    assert os.listdir(tmp_path) == []


# -- through servers ----------------------------------------------------------------------------


def _rows(path: str, precision: str = "") -> int:
    """The store's entries (of the backbone of that `precision`, when given)."""
    with sqlite3.connect(path) as db:
        pattern = f"features-{precision}%" if precision else "%"
        found = db.execute("SELECT count(*) FROM embeddings WHERE backbone LIKE ?", [pattern])
        return int(found.fetchone()[0])


def _summary(server: FakerekServer) -> tuple[int, ...]:
    """The stopped server's (hits, misses, entries written) from its closing log line."""
    [counts] = SUMMARY.findall(server.log())
    return tuple(int(count) for count in counts)


def _lifecycle(server: FakerekServer, backbone: str = "int8") -> list:
    """Upload, train, start, detect every probe, stop: the answers."""
    server.configure(backbone=backbone)
    s3, client = server.client("s3"), server.client()
    s3.create_bucket(Bucket="shots")
    data = {}
    for side, images in (("Training", TRAIN), ("Testing", TEST)):
        lines = []
        for i, (label, image) in enumerate(images):
            s3.put_object(Bucket="shots", Key=f"{side}/{i}.jpg", Body=image)
            lines.append(image_line(f"{side}/{i}.jpg", label, bucket="shots"))
        s3.put_object(Bucket="shots", Key=f"{side}.manifest", Body=manifest(lines))
        s3_object = {"Bucket": "shots", "Name": f"{side}.manifest"}
        data[f"{side}Data"] = {"Assets": [{"GroundTruthManifest": {"S3Object": s3_object}}]}
    project = client.create_project(ProjectName="shapes")["ProjectArn"]
    arn = client.create_project_version(
        ProjectArn=project,
        VersionName="v1",
        OutputConfig={"S3Bucket": "shots", "S3KeyPrefix": "out/"},
        **data,
    )["ProjectVersionArn"]
    client.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, WaiterConfig={"Delay": 1}
    )
    return answers_while_running(client, project, arn, PROBES)


def _run(folder, cache: str, *args: str, backbone: str = "int8") -> tuple[list, FakerekServer]:
    with FakerekServer(str(folder), args=["--cache-dir", cache, *args]) as server:
        answers = _lifecycle(server, backbone)
    return answers, server


@pytest.fixture(scope="module")
def first(tmp_path_factory, cache_dir) -> list:
    """The answers of a server that computed every detection (and stored them)."""
    answers, server = _run(tmp_path_factory.mktemp("first") / "data", cache_dir)
    assert _summary(server) == (0, len(PROBES), len(PROBES))
    assert _rows(os.path.join(cache_dir, FILE_NAME), "int8") == len(PROBES)
    return answers


def test_a_rerun_answers_the_same_without_the_backbone(tmp_path, cache_dir, first):
    answers, server = _run(tmp_path / "data", cache_dir)
    assert answers == first and all(answer for answer in answers)
    assert _summary(server) == (len(PROBES), 0, 0)  # every detection read from the store
    assert _rows(os.path.join(cache_dir, FILE_NAME), "int8") == len(PROBES)


def test_a_damaged_entry_is_ignored_and_stored_again(tmp_path, cache_dir, first):
    path = os.path.join(cache_dir, FILE_NAME)
    with sqlite3.connect(path) as db:  # one byte flipped in one entry, as a bad sector would
        rowid, vectors = db.execute(
            "SELECT rowid, vectors FROM embeddings WHERE backbone LIKE 'features-int8%' LIMIT 1"
        ).fetchone()
        flipped = bytearray(vectors)
        flipped[100] ^= 0x40
        db.execute("UPDATE embeddings SET vectors = ? WHERE rowid = ?", [bytes(flipped), rowid])
    answers, server = _run(tmp_path / "data", cache_dir)
    assert answers == first
    assert _summary(server) == (len(PROBES) - 1, 1, 1)  # recomputed, written again
    assert "ignored and deleted 1 damaged entries" in server.log()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT vectors, checksum FROM embeddings").fetchall()
    assert _rows(path, "int8") == len(PROBES) and all(checksum(v) == c for v, c in rows)


@pytest.mark.parametrize("off", [["--detection-store-mb", "0"], ["--cache-dir", ""]])
def test_off_writes_nothing(tmp_path, cache_dir, first, off):
    own = str(tmp_path / "cache")
    shutil.copytree(cache_dir, own, ignore=shutil.ignore_patterns(f"{FILE_NAME}*"))
    answers, server = _run(tmp_path / "data", own, *off)
    assert answers == first
    assert "detection store" not in server.log()
    assert not glob.glob(os.path.join(own, f"{FILE_NAME}*"))
    assert not glob.glob(os.path.join(str(tmp_path / "data"), f"**/{FILE_NAME}*"), recursive=True)


def test_another_backbone_does_not_hit(tmp_path, cache_dir, first):
    answers, server = _run(tmp_path / "data", cache_dir, backbone="float32")
    assert len(answers) == len(PROBES)
    assert _summary(server) == (0, len(PROBES), len(PROBES))
    assert _rows(os.path.join(cache_dir, FILE_NAME), "float32") == len(PROBES)
