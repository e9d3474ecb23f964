"""ONNX graphs: the EfficientNet-Lite0 backbone and small heads, written by `onnx_proto` (no
`onnx` import at run time).

The backbone takes `image` (uint8, [N, H, W, 3], RGB as Pillow gives it) and outputs `features`
[N, 2560]: global average and global max pooling of the 1280-channel head, side by side.
Normalisation happens inside the graph ((x - 127) / 128, TF-lite convention), BatchNorm is folded
into the convolutions (eps 1e-3), activations are ReLU6, padding is TF "SAME" (SAME_UPPER).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fakerek.ml import onnx_proto
from fakerek.ml.onnx_proto import FLOAT, UINT8, Dim, Node

BN_EPS = 1e-3
OPSET = 17
IR_VERSION = 8
FEATURES = 2560
MAPS_SIZE = 320  # input side of the feature-map backbone (localisation)
HEAD_WEIGHTS, HEAD_BIAS = "head_weights", "head_bias"
# (kernel, stride, expansion, output channels, repeats): EfficientNet-B0 without squeeze-excite.
LITE0_STAGES = [
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
]


Tensor = tuple[str, int, "Sequence[Dim] | None"]  # a graph input or output: name, type, shape


@dataclass
class Model:
    """A graph and what it needs to be run: nodes in topological order, constants, typed inputs
    and outputs."""

    nodes: list[Node]
    initializers: list[tuple[str, np.ndarray]]
    inputs: list[Tensor]
    outputs: list[Tensor]
    metadata: dict[str, str] = field(default_factory=dict)

    def serialize(self) -> bytes:
        return onnx_proto.model(
            self.nodes,
            self.initializers,
            [onnx_proto.value_info(*tensor) for tensor in self.inputs],
            [onnx_proto.value_info(*tensor) for tensor in self.outputs],
            opset=OPSET,
            ir_version=IR_VERSION,
            metadata=self.metadata,
        )


class GraphBuilder:
    """Nodes and initialisers with unique names, for one graph."""

    def __init__(self, prefix: str = ""):
        self.nodes: list[Node] = []
        self.initializers: list[tuple[str, np.ndarray]] = []
        self.prefix = prefix
        self._count = 0

    def name(self, base: str) -> str:
        self._count += 1
        return f"{self.prefix}{base}_{self._count}"

    def const(self, array: np.ndarray | np.generic | float, base: str = "c") -> str:
        name = self.name(base)
        self.initializers.append((name, np.asarray(array)))
        return name

    def op(self, op_type: str, inputs: list[str], base: str | None = None, **attrs: Any) -> str:
        out = self.name(base or op_type.lower())
        self.nodes.append(Node(op_type, list(inputs), [out], out, attrs))
        return out

    def output(self, source: str, name: str) -> None:
        self.nodes.append(Node("Identity", [source], [name]))

    def model(self, inputs: Sequence[Tensor], outputs: Sequence[Tensor]) -> Model:
        return Model(self.nodes, self.initializers, list(inputs), list(outputs))


def _fold_bn(
    weight: np.ndarray, state: dict[str, np.ndarray], bn: str
) -> tuple[np.ndarray, np.ndarray]:
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"] + BN_EPS)
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    return (weight * scale[:, None, None, None]).astype(np.float32), bias.astype(np.float32)


def _conv_bn(
    g: GraphBuilder,
    x: str,
    state: dict[str, np.ndarray],
    weight: str,
    bn: str,
    stride: int = 1,
    groups: int = 1,
    relu6: bool = True,
) -> str:
    w, b = _fold_bn(state[weight], state, bn)
    k = w.shape[-1]
    y = g.op(
        "Conv",
        [x, g.const(w, "w"), g.const(b, "b")],
        "conv",
        kernel_shape=[k, k],
        strides=[stride, stride],
        group=groups,
        auto_pad="SAME_UPPER",
    )
    if relu6:
        y = g.op("Clip", [y, g.const(np.float32(0)), g.const(np.float32(6))], "relu6")
    return y


def backbone_maps(g: GraphBuilder, state: dict[str, np.ndarray], image: str) -> dict[str, str]:
    """Feature maps of the backbone: `fmap16` (112 ch, stride 16), `fmap32` (1280, stride 32)."""
    x = g.op("Cast", [image], to=FLOAT)
    x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    x = g.op("Mul", [g.op("Sub", [x, g.const(np.float32(127.0))]), g.const(np.float32(1 / 128))])
    x = _conv_bn(g, x, state, "_conv_stem.weight", "_bn0", stride=2)
    maps, index, channels = {}, 0, 32
    for _kernel, stride, expand, out, repeats in LITE0_STAGES:  # kernel sizes come with weights
        for repeat in range(repeats):
            step = stride if repeat == 0 else 1
            p = f"_blocks.{index}."
            h = x
            if expand != 1:
                h = _conv_bn(g, h, state, p + "_expand_conv.weight", p + "_bn0")
            h = _conv_bn(
                g,
                h,
                state,
                p + "_depthwise_conv.weight",
                p + "_bn1",
                stride=step,
                groups=channels * expand,
            )
            h = _conv_bn(g, h, state, p + "_project_conv.weight", p + "_bn2", relu6=False)
            if step == 1 and channels == out:
                h = g.op("Add", [h, x], "residual")
            x, channels, index = h, out, index + 1
        if out == 112:
            maps["fmap16"] = x
    maps["fmap32"] = _conv_bn(g, x, state, "_conv_head.weight", "_bn1")
    return maps


def backbone_model(state: dict[str, np.ndarray]) -> Model:
    """image → features [N, 2560] (average and max pooling of the 1280-channel head)."""
    g = GraphBuilder("bb_")
    head = backbone_maps(g, state, "image")["fmap32"]
    average = g.op("Flatten", [g.op("GlobalAveragePool", [head])], axis=1)
    maximum = g.op("Flatten", [g.op("GlobalMaxPool", [head])], axis=1)
    g.output(g.op("Concat", [average, maximum], axis=1), "features")
    return g.model([("image", UINT8, ["N", "H", "W", 3])], [("features", FLOAT, ["N", FEATURES])])


def backbone_maps_model(state: dict[str, np.ndarray]) -> Model:
    """image → fmap16 [N, 112, H/16, W/16] and fmap32 [N, 1280, H/32, W/32], for localisation."""
    g = GraphBuilder("bb_")
    maps = backbone_maps(g, state, "image")
    outputs: list[Tensor] = []
    for name, channels in (("fmap16", 112), ("fmap32", 1280)):
        g.output(maps[name], name)
        outputs.append((name, FLOAT, ["N", channels, f"h_{name}", f"w_{name}"]))
    return g.model([("image", UINT8, ["N", "H", "W", 3])], outputs)


def linear_head_model(
    weights: np.ndarray, bias: np.ndarray, activation: str, metadata: dict[str, str]
) -> Model:
    """features [N, D] → scores [N, K]: one Gemm, then Softmax (single label) or Sigmoid."""
    g = GraphBuilder("head_")
    g.initializers += [
        (HEAD_WEIGHTS, weights.astype(np.float32)),
        (HEAD_BIAS, bias.astype(np.float32)),
    ]
    logits = g.op("Gemm", ["features", HEAD_WEIGHTS, HEAD_BIAS])
    attrs: dict[str, Any] = {"axis": 1} if activation == "Softmax" else {}
    g.output(g.op(activation, [logits], None, **attrs), "scores")
    model = g.model(
        [("features", FLOAT, ["N", weights.shape[0]])], [("scores", FLOAT, ["N", weights.shape[1]])]
    )
    model.metadata = dict(metadata)
    return model
