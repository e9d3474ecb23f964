"""Issue 14: the embedding caches. A hit returns exactly what a miss computes; the memory cache
evicts the least recently used entries; the persisted store ignores damaged entries, keeps to its
bound and survives an unreadable file; a retraining on known images gives the same model."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from images import SHAPES, scene
from manifests import BUCKET, image_line, manifest

from fakerek.ml import classifier, embedding, features, graph, model_files, serving
from fakerek.ml.embedding_store import FILE_NAME, EmbeddingStore
from fakerek.ml.lru import LruCache
from fakerek.testing import FakerekServer

PRECISION = "int8"


def test_the_memory_cache_evicts_the_least_recently_used():
    cache = LruCache(capacity_bytes=300)
    for key in "abc":
        cache.put(key, key.upper(), 100)
    assert cache.get("a") == "A"  # now b is the least recently used
    cache.put("d", "D", 100)
    assert [cache.get(key) for key in "abcd"] == ["A", None, "C", "D"]
    assert cache.size_bytes == 300
    cache.put("huge", "H", 301)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 3
    cache.resize(100)  # shrinking keeps the most recently used
    assert [cache.get(key) for key in "acd"] == [None, None, "D"]
    cache.resize(0)
    assert len(cache) == 0 and cache.size_bytes == 0


def _images(count: int, seed: int = 0) -> list[bytes]:
    return [scene(seed + i, [SHAPES[i % 3]])[0] for i in range(count)]


def _sources(data: list[bytes]) -> list:
    return [
        (("bucket", f"{i}.jpg"), functools.partial(bytes, image)) for i, image in enumerate(data)
    ]


@pytest.fixture(scope="module")
def model():
    data = _images(12, seed=4000)
    embedded = embedding.Embedder(PRECISION, 2, None, mirrored=True).embed(
        _sources(data), 2, "test"
    )
    trained = classifier.train(embedded, [{SHAPES[i % 3]} for i in range(12)], PRECISION)
    trained.thresholds = {label: 0.5 for label in trained.labels}
    return serving.Loaded(trained)


def test_a_served_hit_is_exactly_the_miss(model):
    image = scene(77, ["square"])[0]
    uncached = serving.predict(model, image)
    cache = LruCache(capacity_bytes=1 << 20)
    miss = serving.predict(model, image, cache)
    hit = serving.predict(model, image, cache)
    assert (cache.misses, cache.hits) == (1, 1)
    assert hit == miss == uncached
    key = ("features", model.model.backbone_identity, hashlib.sha256(image).digest())
    assert np.array_equal(cache.get(key), model.model.embed([image]))


def test_features_do_not_depend_on_the_batch_nor_the_threads():
    data = _images(5, seed=60)
    arrays = [features.to_array(features.decode(image)) for image in data]
    batched = features.backbone(PRECISION, 2).embed(arrays)
    alone = np.concatenate([features.backbone(PRECISION, 1).embed([a]) for a in arrays])
    served = features.backbone(PRECISION, features.SERVING_THREADS)  # adaptive thread count
    assert np.array_equal(batched, alone)
    assert np.array_equal(np.concatenate([served.embed([a]) for a in arrays]), alone)


def test_the_store_hands_back_what_was_embedded(tmp_path):
    data = _images(6, seed=80)
    sources = _sources(data)
    fresh = embedding.Embedder(PRECISION, 2, None, mirrored=True).embed(sources, 2, "fresh")
    store = EmbeddingStore(str(tmp_path / FILE_NAME), max_bytes=1 << 30)
    first = embedding.Embedder(PRECISION, 2, store, mirrored=True)
    assert np.array_equal(first.embed(sources, 2, "first"), fresh)
    assert (first.embedded, first.cached) == (6, 0)
    second = embedding.Embedder(PRECISION, 2, store, mirrored=True)
    assert np.array_equal(second.embed(sources, 2, "second"), fresh)
    assert (second.embedded, second.cached) == (0, 6)
    test_views = embedding.Embedder(PRECISION, 2, store, mirrored=False)
    assert np.array_equal(test_views.embed(sources, 1, "test"), fresh[:, :1])


def _key(image: bytes) -> bytes:
    return hashlib.sha256(image).digest()


def test_a_damaged_entry_is_ignored_and_dropped(tmp_path):
    path = str(tmp_path / FILE_NAME)
    store = EmbeddingStore(path, max_bytes=1 << 30)
    vectors = np.arange(2 * graph.FEATURES, dtype=np.float32).reshape(2, -1)
    store.put_many("bb", [(b"good", vectors), (b"torn", vectors), (b"flipped", vectors)])
    with sqlite3.connect(path) as db:  # what a torn write or a bad sector would leave
        db.execute(
            "UPDATE embeddings SET vectors = substr(vectors, 1, 100) WHERE image = ?", [b"torn"]
        )
        db.execute(
            "UPDATE embeddings SET vectors = zeroblob(length(vectors)) WHERE image = ?",
            [b"flipped"],
        )
    found = store.get_many("bb", [b"good", b"torn", b"flipped"], 2)
    assert list(found) == [b"good"] and np.array_equal(found[b"good"], vectors)
    assert store.get_many("bb", [b"good"], 1)[b"good"].shape == (1, graph.FEATURES)
    assert store.get_many("other backbone", [b"good"], 1) == {}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 1


def test_the_store_keeps_the_most_recently_used_within_its_bound(tmp_path):
    entry = np.zeros((1, graph.FEATURES), np.float32)
    store = EmbeddingStore(str(tmp_path / FILE_NAME), max_bytes=3 * entry.nbytes)
    for name in (b"a", b"b", b"c", b"d"):
        store.put_many("bb", [(name, entry)])
    store.get_many("bb", [b"a"], 1)  # used again: b is now the least recently used
    assert store.prune() == 1
    assert sorted(store.get_many("bb", [b"a", b"b", b"c", b"d"], 1)) == [b"a", b"c", b"d"]
    assert store.size_bytes() == 3 * entry.nbytes
    assert store.prune() == 0


def test_an_unreadable_store_is_set_aside(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"this is not a database" * 100)
    store = EmbeddingStore(str(path), max_bytes=1 << 20)
    store.put_many("bb", [(b"x", np.ones((1, graph.FEATURES), np.float32))])
    assert list(store.get_many("bb", [b"x"], 1)) == [b"x"]
    assert (tmp_path / f"{FILE_NAME}.unreadable").exists()
    assert EmbeddingStore.in_data_dir(str(tmp_path), 0) is None  # 0 MB: no store


def _train(client, project: str, name: str) -> None:
    client.create_project_version(
        ProjectArn=project, VersionName=name, OutputConfig={"S3Bucket": "out"}
    )
    found = client.describe_project_versions(ProjectArn=project, VersionNames=[name])
    assert found["ProjectVersionDescriptions"][0]["Status"] == "TRAINING_COMPLETED"


def test_a_retraining_on_known_images_gives_the_same_model(tmp_path):
    with FakerekServer(str(tmp_path / "data")) as server:
        client, s3 = server.client(), server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket="out")
        lines = []
        for i, image in enumerate(_images(24, seed=500)):
            s3.put_object(Bucket=BUCKET, Key=f"i{i}.jpg", Body=image)
            lines.append(image_line(f"i{i}.jpg", SHAPES[i % 3]))
        s3.put_object(Bucket=BUCKET, Key="train.manifest", Body=manifest(lines))
        project = client.create_project(ProjectName="again")["ProjectArn"]
        client.create_dataset(
            ProjectArn=project,
            DatasetType="TRAIN",
            DatasetSource={
                "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "train.manifest"}}
            },
        )
        # every training computes (no model cache); the first embeds without the store
        server.configure(embedding_store_mb=0, model_cache_mb=0)
        _train(client, project, "v1")
        assert not os.path.exists(os.path.join(server.data_dir, FILE_NAME))
        server.configure(embedding_store_mb=64)
        _train(client, project, "v2")  # embeds, and keeps its vectors
        _train(client, project, "v3")  # finds every image in the store
        with open(server.log_path, encoding="utf-8") as handle:
            log = handle.read()
        assert log.count("validation: 24/24 images (24 embedded)") == 2  # v1, v2
        assert "validation: 24/24 images (24 from the cache)" in log  # v3
        heads = []
        for version in sorted(os.listdir(os.path.join(server.data_dir, "models"))):
            folder = serving.model_folder(server.data_dir, int(version))
            with open(os.path.join(folder, classifier.HEAD), "rb") as handle:
                heads.append(handle.read())
        assert len(heads) == 3 and heads[0] == heads[1] == heads[2]


def _legacy_folder(tmp_path, model, written_by: str) -> str:
    """A model folder as saved before head.npz and the int8 backbone: the head only in head.onnx
    (written by fakerek, or by the onnx package as the first versions did), no backbone named."""
    folder = str(tmp_path / "model")
    model.model.save(folder)
    os.remove(os.path.join(folder, classifier.HEAD))
    if written_by != "fakerek":
        import onnx
        from onnx import helper, numpy_helper

        head = model.model.head
        if written_by == "onnx raw_data":
            tensors = [
                numpy_helper.from_array(head.weights.astype(np.float32), graph.HEAD_WEIGHTS),
                numpy_helper.from_array(head.bias.astype(np.float32), graph.HEAD_BIAS),
            ]
        else:  # values as float_data, as helper.make_tensor writes them unless asked for raw
            named = ((graph.HEAD_WEIGHTS, head.weights), (graph.HEAD_BIAS, head.bias))
            tensors = [
                helper.make_tensor(name, onnx.TensorProto.FLOAT, array.shape, array.ravel())
                for name, array in named
            ]
        node = helper.make_node("Gemm", ["features", graph.HEAD_WEIGHTS, graph.HEAD_BIAS], ["s"])
        legacy = helper.make_model(
            helper.make_graph(
                [node],
                "head",
                [helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, [None, 2560])],
                [helper.make_tensor_value_info("s", onnx.TensorProto.FLOAT, None)],
                tensors,
            )
        )
        onnx.save(legacy, os.path.join(folder, "head.onnx"))
    meta_path = os.path.join(folder, "model.json")
    with open(meta_path, encoding="utf-8") as handle:
        meta = json.load(handle)
    del meta["backbone"]  # as saved before the int8 backbone: float32
    with open(meta_path, "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    return folder


@pytest.mark.parametrize("written_by", ["fakerek", "onnx raw_data", "onnx float_data"])
def test_a_model_saved_before_head_npz_and_int8_still_loads(tmp_path, model, written_by):
    folder = _legacy_folder(tmp_path, model, written_by)
    loaded = classifier.Model.load(folder)
    assert loaded.backbone == "float32"
    assert loaded.head.weights.dtype == np.float32
    assert np.array_equal(loaded.head.weights, model.model.head.weights)
    assert np.array_equal(loaded.head.bias, model.model.head.bias)


def test_a_legacy_head_loads_without_the_onnx_package(tmp_path, model):
    folder = _legacy_folder(tmp_path, model, "onnx raw_data")
    probe = (
        "import sys; from fakerek.ml import classifier; "
        f"classifier.Model.load({folder!r}); print('onnx' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_damaged_legacy_head_is_a_model_file_error(tmp_path, model):
    folder = _legacy_folder(tmp_path, model, "onnx raw_data")
    path = os.path.join(folder, "head.onnx")
    with open(path, "rb") as handle:
        whole = handle.read()
    for damaged in (whole[: len(whole) // 2], b"\xff" * 40, b""):
        with open(path, "wb") as handle:
            handle.write(damaged)
        with pytest.raises(model_files.ModelFileError, match="head.onnx"):
            classifier.Model.load(folder)


def test_a_store_that_fails_mid_training_is_dropped(tmp_path):
    data = _images(3, seed=90)
    store = EmbeddingStore(str(tmp_path / FILE_NAME), max_bytes=1 << 30)
    embedder = embedding.Embedder(PRECISION, 2, store, mirrored=False)
    store.close()  # every call now fails, as a store on a vanished disk would
    fresh = embedding.Embedder(PRECISION, 2, None, mirrored=False).embed(_sources(data), 1, "a")
    assert np.array_equal(embedder.embed(_sources(data), 1, "b"), fresh)
    assert embedder.store is None
    embedder.close()
