"""The model machinery: weights reader, backbone, linear heads and their ONNX export."""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import onnx
import pytest
from images import SHAPES, scene

from fakerek.ml import features, graph, heads, sessions, weights


def test_the_real_weights_load():
    state = weights.backbone_weights()
    assert len(state) == 296
    assert sum(array.size for array in state.values()) == 4_694_073
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo owned",))


def _legacy(tree_bytes: bytes) -> io.BytesIO:
    buffer = io.BytesIO()
    for part in (weights.MAGIC, 1001, {"little_endian": True}):
        pickle.dump(part, buffer, protocol=2)
    buffer.write(tree_bytes)
    return buffer


def test_the_unpickler_refuses_anything_but_tensors():
    stream = _legacy(pickle.dumps(_Evil(), protocol=2))
    stream.seek(0)
    with pytest.raises(weights.WeightsError, match="refusing to load posix.system"):
        weights.read_state_dict(stream)


def test_bad_files_are_weights_errors():
    with pytest.raises(weights.WeightsError, match="not a legacy"):
        weights.read_state_dict(io.BytesIO(pickle.dumps(42, protocol=2)))
    with pytest.raises(weights.WeightsError):
        weights.read_state_dict(io.BytesIO(b"garbage"))
    with open(weights.weights_path(), "rb") as handle:
        truncated = io.BytesIO(handle.read(2_000_000))
    with pytest.raises(weights.WeightsError, match="truncated"):
        weights.read_state_dict(truncated)
    assert struct.calcsize("<q") == 8


def _dataset(per_class: int, seed: int):
    arrays, groups, targets = [], [], []
    for index in range(per_class * len(SHAPES)):
        shape = SHAPES[index % len(SHAPES)]
        data, _ = scene(seed + index, [shape])
        for view in features.views(features.decode(data)):
            arrays.append(view)
            groups.append(index)
            targets.append(np.eye(len(SHAPES))[SHAPES.index(shape)])
    return arrays, np.array(groups), np.array(targets)


@pytest.fixture(scope="module")
def embedded():
    backbone = features.backbone()
    train, groups, targets = _dataset(8, seed=1000)
    test_images = [
        features.to_array(features.decode(scene(5000 + i, [SHAPES[i % 3]])[0])) for i in range(30)
    ]
    test_targets = np.array([i % 3 for i in range(30)])
    return (backbone.embed(train), groups, targets, backbone.embed(test_images), test_targets)


def test_backbone_is_deterministic():
    image = features.to_array(features.decode(scene(7, ["circle"])[0]))
    first, second = features.backbone().embed([image]), features.backbone().embed([image])
    assert first.shape == (1, graph.FEATURES)
    assert np.array_equal(first, second)


def test_a_softmax_head_learns_shapes(embedded):
    train, groups, targets, test, truth = embedded
    head = heads.train(train, targets, groups, heads.SOFTMAX)
    accuracy = float(np.mean(head.scores(test).argmax(1) == truth))
    assert accuracy >= 0.9, accuracy
    again = heads.train(train, targets, groups, heads.SOFTMAX)
    assert np.array_equal(head.weights, again.weights)


def test_the_exported_head_matches_numpy(embedded):
    train, groups, targets, test, _ = embedded
    head = heads.train(train, targets, groups, heads.SIGMOID)
    model = graph.linear_head_model(
        head.weights, head.bias, head.activation, {"labels": "\n".join(SHAPES)}
    )
    session = sessions.session(model.serialize(), threads=1)
    scores = session.run(["scores"], {"features": test})[0]
    assert np.allclose(scores, head.scores(test), atol=1e-5)
    parsed = onnx.load_from_string(model.serialize())
    assert {p.key: p.value for p in parsed.metadata_props}["labels"] == "circle\nsquare\ntriangle"


def test_a_detector_reads_its_images_one_at_a_time(caplog):
    """Localisation training streams: each image is read when its turn comes (twice for the
    PCA images), so memory never holds the dataset's bytes; and it logs its progress."""
    from fakerek.ml import detector

    reads: dict[int, int] = {}
    scenes = [scene(200 + i, [SHAPES[i % 3]]) for i in range(8)]

    def loader(index: int):
        def load() -> bytes:
            reads[index] = reads.get(index, 0) + 1
            return bytes(scenes[index][0])

        return load

    examples = [
        detector.BoxExample(
            loader(i),
            np.array([[x1 / 320, y1 / 240, x2 / 320, y2 / 240] for _, (x1, y1, x2, y2) in boxes]),
            [label for label, _ in boxes],
        )
        for i, (_, boxes) in enumerate(scenes)
    ]
    with caplog.at_level("INFO", logger="fakerek.training"):
        model = detector.train(examples, precision="int8")
    assert reads == {i: 2 for i in range(8)}  # all 8 are among the first PCA_IMAGES
    assert "localisation images: 8/8 images (8 pooled)" in caplog.text
    found = model.detect(scenes[0][0], sessions.TRAINING_THREADS)
    assert found and found[0].label == SHAPES[0]
