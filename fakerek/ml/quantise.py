"""The int8 backbone: the float graph rewritten in QDQ form, calibrated on photos that ship with
fakerek (`calibration_images/`, provenance in its README).

EfficientNet-Lite0 was designed to run quantised: no squeeze-excite, ReLU6 everywhere. Every
convolution gets its input, weights (per output channel, symmetric, 7 bits), bias (int32) and output
quantised; a ReLU6 disappears into the range of the output it follows ([0, 6] or less); residual
additions are quantised too. onnxruntime fuses each pattern into an integer kernel. The
normalised input ((x - 127) / 128) is quantised with scale 1/128 and zero point 127, which is the
uint8 image itself: nothing is lost there.

Activation ranges are the minimum and maximum over the calibration photos, measured by the float
graph. onnxruntime's `quantize_static` builds the same kind of
graph, but takes seconds per process (per-channel quantisation in Python); this takes a fraction
of a second, so the graph is built at run time like the float one.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
from PIL import Image

from fakerek.ml import graph, sessions
from fakerek.ml.onnx_proto import FLOAT, Node

CALIBRATION_FOLDER = os.path.join(os.path.dirname(__file__), "calibration_images")
RELU6 = 6.0
INT32_HEADROOM = 2.0**30  # largest quantised bias magnitude allowed
# Weights use 7 of int8's bits (-63..63). On x86 CPUs without VNNI, onnxruntime's u8 x s8 kernel
# adds pairs of products in int16 (vpmaddubsw), and 255 * 127 * 2 saturates it: with full-range
# weights the int8 features of an AMD EPYC with AVX2 only were 0.78-0.90 cosine-similar to the
# float ones (0.94-0.99 with 7 bits). The same graph then computes the same thing on every CPU.
WEIGHT_LEVELS = 63
CALIBRATION_BATCH = 4  # photos per calibration run: few runs, little memory


def calibration_files() -> list[bytes]:
    """The calibration photos' bytes, in the order they are used."""
    out = []
    for name in sorted(os.listdir(CALIBRATION_FOLDER)):
        if name.endswith(".jpg"):
            with open(os.path.join(CALIBRATION_FOLDER, name), "rb") as photo:
                out.append(photo.read())
    return out


def calibration_images(size: int) -> np.ndarray:
    """uint8 [N, size, size, 3]: the calibration photos."""
    out = []
    for name in sorted(os.listdir(CALIBRATION_FOLDER)):
        if name.endswith(".jpg"):
            with Image.open(os.path.join(CALIBRATION_FOLDER, name)) as image:
                out.append(
                    np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
                )
    return np.ascontiguousarray(np.stack(out))


def _fold_relu6(nodes: list[Node]) -> tuple[list[Node], set[str]]:
    """Drop each Clip(0, 6) that follows a Conv whose output nothing else reads: the Conv writes
    the Clip's output instead. Returns (copies of) the nodes and the rectified tensors' names."""
    nodes = [
        dataclasses.replace(node, inputs=list(node.inputs), outputs=list(node.outputs))
        for node in nodes
    ]
    readers: dict[str, int] = {}
    for node in nodes:
        for name in node.inputs:
            readers[name] = readers.get(name, 0) + 1
    producers = {node.outputs[0]: node for node in nodes}
    rectified, kept = set(), []
    for node in nodes:
        source = producers.get(node.inputs[0]) if node.inputs else None
        if (
            node.op_type == "Clip"
            and source is not None
            and source.op_type == "Conv"
            and readers[node.inputs[0]] == 1
        ):
            source.outputs[0] = node.outputs[0]
            rectified.add(node.outputs[0])
            continue
        kept.append(node)
    return kept, rectified


def _activations(nodes: list[Node]) -> list[str]:
    """The tensors to quantise: inputs and outputs of every Conv (not its weights) and Add."""
    names: dict[str, None] = {}
    for node in nodes:
        if node.op_type == "Conv":
            names[node.inputs[0]] = None
            names[node.outputs[0]] = None
        elif node.op_type == "Add":
            for name in (*node.inputs, node.outputs[0]):
                names[name] = None
    return list(names)


def ranges(model: graph.Model, images: np.ndarray) -> dict[str, tuple[float, float]]:
    """(min, max) of every activation to quantise over `images`, measured by the float graph
    with ReduceMin / ReduceMax nodes added: only the extremes leave onnxruntime."""

    wanted = _activations(_fold_relu6(model.nodes)[0])
    extremes = [
        Node(op, [name], [f"{name}_{op}"], f"{name}_{op}", {"keepdims": 0})
        for name in wanted
        for op in ("ReduceMin", "ReduceMax")
    ]
    probe = dataclasses.replace(
        model,
        nodes=model.nodes + extremes,
        outputs=model.outputs + [(node.outputs[0], FLOAT, []) for node in extremes],
    )
    session = sessions.session(probe.serialize(), sessions.TRAINING_THREADS)
    names = [node.outputs[0] for node in extremes]
    low = {name: np.inf for name in wanted}
    high = {name: -np.inf for name in wanted}
    for start in range(0, len(images), CALIBRATION_BATCH):
        values = session.run(names, {"image": images[start : start + CALIBRATION_BATCH]})
        for index, name in enumerate(wanted):
            low[name] = min(low[name], float(values[2 * index]))
            high[name] = max(high[name], float(values[2 * index + 1]))
    return {name: (low[name], high[name]) for name in wanted}


def _uint8_parameters(low: float, high: float) -> tuple[np.float32, np.uint8]:
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255 if high > low else 1.0
    zero = int(np.clip(np.round(-low / scale), 0, 255))
    return np.float32(scale), np.uint8(zero)


def quantised(model: graph.Model, measured: dict[str, tuple[float, float]]) -> graph.Model:
    """The QDQ form of a float backbone graph (`graph.backbone_model` or `backbone_maps_model`),
    with activation ranges from `ranges` of the same graph."""
    initializers = dict(model.initializers)
    nodes, rectified = _fold_relu6(model.nodes)
    g = graph.GraphBuilder("q_")
    normalised = next(node.inputs[0] for node in nodes if node.op_type == "Conv")
    scales: dict[str, np.float32] = {}
    pairs: dict[str, list[Node]] = {}  # tensor → its QuantizeLinear, DequantizeLinear
    dequantised: dict[str, str] = {}
    for name in _activations(nodes):
        low, high = measured[name]
        if name in rectified:
            low, high = 0.0, min(high, RELU6)
        if name == normalised:
            low, high = -127 / 128, 128 / 128  # the uint8 image itself
        scale, zero = _uint8_parameters(low, high)
        scale_name, zero_name = g.const(scale, "scale"), g.const(zero, "zero")
        q = g.op("QuantizeLinear", [name, scale_name, zero_name])
        dequantised[name] = g.op("DequantizeLinear", [q, scale_name, zero_name])
        scales[name] = scale
        pairs[name], g.nodes = g.nodes, []
    out: list[Node] = []
    for node in nodes:
        if node.op_type == "Conv":
            x, weight, bias = node.inputs
            w, b = initializers.pop(weight), initializers.pop(bias)
            # per channel: the weights' largest magnitude maps to 63, unless the bias would then
            # not fit an int32 (a channel whose weights all but vanished)
            w_scale = np.maximum(
                np.abs(w).reshape(len(w), -1).max(1) / WEIGHT_LEVELS,
                np.abs(b) / scales[x] / INT32_HEADROOM,
            ).astype(np.float32)
            w_scale[w_scale == 0] = 1.0
            w_q = np.round(w / w_scale[:, None, None, None]).astype(np.int8)
            b_scale = (scales[x] * w_scale).astype(np.float32)
            b_q = np.round(b / b_scale).astype(np.int32)
            zeros = np.zeros(len(w), np.int8)
            w_dq = g.op(
                "DequantizeLinear",
                [g.const(w_q, "w_q"), g.const(w_scale, "w_scale"), g.const(zeros, "w_zero")],
                axis=0,
            )
            b_dq = g.op(
                "DequantizeLinear",
                [g.const(b_q, "b_q"), g.const(b_scale, "b_scale"), g.const(zeros.astype(np.int32))],
                axis=0,
            )
            out += g.nodes
            g.nodes = []
            node.inputs = [dequantised[x], w_dq, b_dq]
        elif node.op_type != "Identity":  # the graph's outputs stay the float graph's tensors
            node.inputs = [dequantised.get(name, name) for name in node.inputs]
        out.append(node)
        for name in node.outputs:
            out += pairs.get(name, [])
    read = {name for node in out for name in node.inputs}
    kept = [(k, v) for k, v in initializers.items() if k in read]
    return graph.Model(out, kept + g.initializers, model.inputs, model.outputs)


@functools.cache
def quantised_bytes(kind: str, size: int) -> bytes:
    """The serialised int8 backbone of `kind` ('features' or 'maps'), calibrated at `size`."""
    from fakerek.ml import weights

    state = weights.backbone_weights()
    model = graph.backbone_model(state) if kind == "features" else graph.backbone_maps_model(state)
    return quantised(model, ranges(model, calibration_images(size))).serialize()
