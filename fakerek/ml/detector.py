"""Object localisation: anchors + RoIAlign + linear heads on the frozen backbone's feature maps.

Design measured in shared/research/model.md §3.3. A fixed set of anchors covers the image; each
anchor is described by RoIAlign pooling of a PCA-reduced stride-32 map (the box and a 1.8× context
box) and of the stride-16 map, plus its geometry. A softmax over "background + labels" scores
anchors and a ridge regression refines their boxes. For inference the linear heads are moved in
front of the pooling (RoIAlign with averaging is linear), so the per-version graph pools a few score
maps instead of hundreds of feature channels. The backbone session that yields the maps is shared.

Boxes are (x1, y1, x2, y2) ratios of the image's width and height.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from fakerek.ml import calibration, features, graph, model_files, sessions
from fakerek.ml.onnx_proto import FLOAT
from fakerek.ml.progress import Progress

log = logging.getLogger("fakerek.training")
SIZE = graph.MAPS_SIZE
PCA_DIM = 256
C16 = 112
NMS_IOU = 0.3
CONTAIN = 0.7
MAX_DETECTIONS = 100
MIN_SCORE = 0.05
PCA_IMAGES = 60


def anchors(
    scales: tuple[float, ...] = (0.1, 0.14, 0.2, 0.28, 0.4, 0.56, 0.8),
    aspects: tuple[float, ...] = (1 / 3, 1 / 2, 1, 2),
    step: float = 0.4,
) -> np.ndarray:
    out = []
    for scale in scales:
        n = max(1, int(np.ceil(1.0 / (scale * step))))
        centres = (np.arange(n) + 0.5) / n
        for aspect in aspects:
            w, h = scale * np.sqrt(aspect), scale / np.sqrt(aspect)
            if w > 1 or h > 1:
                continue
            for cy in centres:
                for cx in centres:
                    out.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    return np.clip(np.array(out, np.float32), 0, 1)


ANCHORS = anchors()


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] intersection over union."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    ix, iy = np.clip(hi - lo, 0, None).transpose(2, 0, 1)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    overlap: np.ndarray = inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)
    return overlap


def context(boxes: np.ndarray, factor: float = 1.8) -> np.ndarray:
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * factor / 2
    wider: np.ndarray = np.clip(np.concatenate([centre - half, centre + half], 1), 0, 1)
    return wider.astype(np.float32)


def geometry(boxes: np.ndarray) -> np.ndarray:
    size = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([np.log(size + 1e-3), (boxes[:, :2] + boxes[:, 2:]) / 2], 1).astype(
        np.float32
    )


def encode(boxes: np.ndarray, truth: np.ndarray) -> np.ndarray:
    size, centre = boxes[:, 2:] - boxes[:, :2], (boxes[:, :2] + boxes[:, 2:]) / 2
    t_size, t_centre = truth[:, 2:] - truth[:, :2], (truth[:, :2] + truth[:, 2:]) / 2
    return np.concatenate([(t_centre - centre) / size, np.log(t_size / size)], 1).astype(np.float32)


# -- graphs -------------------------------------------------------------------------------------


def _maps_inputs() -> list[graph.Tensor]:
    g32, g16 = SIZE // 32, SIZE // 16
    return [
        ("fmap16", FLOAT, [1, C16, g16, g16]),
        ("fmap32", FLOAT, [1, 1280, g32, g32]),
    ]


def _pca(g: graph.GraphBuilder, pca_w: np.ndarray, pca_mean: np.ndarray) -> str:
    w = pca_w.T.reshape(PCA_DIM, 1280, 1, 1).astype(np.float32)
    b = (-(pca_mean @ pca_w)).astype(np.float32)
    return g.op("Conv", ["fmap32", g.const(w, "pca_w"), g.const(b, "pca_b")], kernel_shape=[1, 1])


def _roi_align(g: graph.GraphBuilder, fmap: str, rois: str, out: int) -> str:
    first = g.op(
        "Slice",
        [g.op("Shape", [rois]), g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64))],
    )
    index = g.op("ConstantOfShape", [first], value=np.zeros(1, np.int64))
    return g.op(
        "RoiAlign",
        [fmap, rois, index],
        mode="avg",
        output_height=out,
        output_width=out,
        sampling_ratio=2,
        spatial_scale=1.0,
        coordinate_transformation_mode="half_pixel",
    )


def _scaled(g: graph.GraphBuilder, rois: str, grid: int) -> str:
    return g.op("Mul", [rois, g.const(np.full(4, grid, np.float32))])


def roi_feature_model(pca_w: np.ndarray, pca_mean: np.ndarray) -> graph.Model:
    """Training graph: maps + rois + context rois → per-roi features (without geometry)."""
    g = graph.GraphBuilder("roi_")
    p32 = _pca(g, pca_w, pca_mean)
    g32, g16 = SIZE // 32, SIZE // 16
    parts = [
        g.op("Flatten", [_roi_align(g, p32, _scaled(g, "rois", g32), 2)], axis=1),
        g.op("Flatten", [_roi_align(g, p32, _scaled(g, "context", g32), 1)], axis=1),
        g.op("Flatten", [_roi_align(g, "fmap16", _scaled(g, "rois", g16), 2)], axis=1),
    ]
    g.output(g.op("Concat", parts, axis=1), "roi_features")
    inputs: list[graph.Tensor] = [
        *_maps_inputs(),
        ("rois", FLOAT, ["R", 4]),
        ("context", FLOAT, ["R", 4]),
    ]
    out: graph.Tensor = ("roi_features", FLOAT, ["R", "D"])
    return g.model(inputs, [out])


def _position_sensitive(
    g: graph.GraphBuilder, fmap: str, weights_: np.ndarray, rois: str, channels: int, k: int
) -> str:
    """A linear head over Flatten(RoIAlign(fmap, 2×2)), applied before the pooling."""
    per_bin = weights_.reshape(channels, 4, k)  # Flatten order: channel, then bin
    conv = np.transpose(per_bin, (1, 2, 0)).reshape(4 * k, channels, 1, 1).astype(np.float32)
    pooled = _roi_align(
        g, g.op("Conv", [fmap, g.const(conv, "ps_w")], kernel_shape=[1, 1]), rois, 2
    )
    pooled = g.op("Reshape", [pooled, g.const(np.array([0, 4, k, 4], np.int64))])
    mask = np.zeros((1, 4, 1, 4), np.float32)
    mask[0, np.arange(4), 0, np.arange(4)] = 1
    return g.op(
        "ReduceSum",
        [g.op("Mul", [pooled, g.const(mask)]), g.const(np.array([1, 3], np.int64))],
        keepdims=0,
    )


def head_model(model: DetectorModel) -> graph.Model:
    """Inference graph: maps → det_scores [A, labels + 1] (softmax), det_boxes [A, 4]."""
    w = np.concatenate([model.class_w, model.box_w], 1).astype(np.float32)
    bias = np.concatenate([model.class_b, model.box_b]).astype(np.float32)
    classes, k = model.class_w.shape[1], w.shape[1]
    o1, o2, o3 = 4 * PCA_DIM, 5 * PCA_DIM, 5 * PCA_DIM + 4 * C16
    g = graph.GraphBuilder("det_")
    p32 = _pca(g, model.pca_w, model.pca_mean)
    g32, g16 = SIZE // 32, SIZE // 16
    box_part = _position_sensitive(g, p32, w[:o1], g.const(ANCHORS * g32, "a32"), PCA_DIM, k)
    context_conv = g.op(
        "Conv",
        [p32, g.const(np.ascontiguousarray(w[o1:o2].T.reshape(k, PCA_DIM, 1, 1)), "ctx_w")],
        kernel_shape=[1, 1],
    )
    context_part = g.op(
        "Flatten", [_roi_align(g, context_conv, g.const(context(ANCHORS) * g32, "c32"), 1)], axis=1
    )
    fine_part = _position_sensitive(g, "fmap16", w[o2:o3], g.const(ANCHORS * g16, "a16"), C16, k)
    constant = (geometry(ANCHORS) @ w[o3:] + bias).astype(np.float32)
    total = g.op(
        "Add",
        [g.op("Add", [g.op("Add", [box_part, context_part]), fine_part]), g.const(constant, "geo")],
    )

    def columns(tensor: str, start: int, end: int) -> str:
        return g.op(
            "Slice",
            [
                tensor,
                g.const(np.array([start], np.int64)),
                g.const(np.array([end], np.int64)),
                g.const(np.array([1], np.int64)),
            ],
        )

    g.output(g.op("Softmax", [columns(total, 0, classes)], axis=1), "det_scores")
    deltas = columns(total, classes, classes + 4)
    size = ANCHORS[:, 2:] - ANCHORS[:, :2]
    centre = (ANCHORS[:, :2] + ANCHORS[:, 2:]) / 2
    new_centre = g.op(
        "Add",
        [g.op("Mul", [columns(deltas, 0, 2), g.const(size)]), g.const(centre.astype(np.float32))],
    )
    half = g.op(
        "Mul",
        [
            g.op(
                "Exp",
                [
                    g.op(
                        "Clip",
                        [columns(deltas, 2, 4), g.const(np.float32(-2)), g.const(np.float32(2))],
                    )
                ],
            ),
            g.const((size / 2).astype(np.float32)),
        ],
    )
    corners = g.op(
        "Concat", [g.op("Sub", [new_centre, half]), g.op("Add", [new_centre, half])], axis=1
    )
    g.output(g.op("Clip", [corners, g.const(np.float32(0)), g.const(np.float32(1))]), "det_boxes")
    outputs = [
        ("det_scores", FLOAT, ["A", classes]),
        ("det_boxes", FLOAT, ["A", 4]),
    ]
    return g.model(_maps_inputs(), outputs)


def feature_maps(
    array: np.ndarray, precision: str, threads: int = sessions.TRAINING_THREADS
) -> dict[str, np.ndarray]:
    """The maps of one uint8 [SIZE, SIZE, 3] image."""
    session = features.maps_session(precision, threads)
    fmap16, fmap32 = session.run(["fmap16", "fmap32"], {"image": array[None]})
    return {"fmap16": fmap16, "fmap32": fmap32}


# -- the model ----------------------------------------------------------------------------------


@dataclass
class Detection:
    label: str
    score: float
    box: np.ndarray  # x1, y1, x2, y2 ratios


@dataclass
class DetectorModel:
    labels: list[str]
    pca_w: np.ndarray
    pca_mean: np.ndarray
    class_w: np.ndarray
    class_b: np.ndarray
    box_w: np.ndarray
    box_b: np.ndarray
    thresholds: dict[str, float] = field(default_factory=dict)
    task: str = "localization"
    platt: calibration.Platt = field(default_factory=calibration.Platt)  # raw score → confidence
    backbone: str = features.LEGACY_PRECISION  # the precision of the backbone it was trained on
    _session: features.Adaptive | None = None

    def session(self) -> features.Adaptive:
        if self._session is None:
            self._session = features.serving_session(head_model(self).serialize())
        return self._session

    def detect(self, data: bytes, threads: int = features.SERVING_THREADS) -> list[Detection]:
        array = features.to_array(features.decode(data, SIZE), SIZE)
        maps = feature_maps(array, self.backbone, threads)
        scores, boxes = self.session().run(["det_scores", "det_boxes"], maps)
        return [
            Detection(self.labels[c], self.confidence(s), b)
            for c, s, b in postprocess(scores, boxes)
        ]

    def confidence(self, raw: float) -> float:
        return float(self.platt(calibration.logit(np.float64(raw))))

    def calibrate(self, raw_scores: np.ndarray, hits: np.ndarray) -> None:
        """Fit the confidences on held-out detections: each raw score against whether its box
        matched a true box (the monotone map keeps every ranking, so mAP is unchanged)."""
        self.platt = calibration.Platt.fit(calibration.logit(raw_scores), hits)

    def save(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "head.onnx"), "wb") as handle:
            handle.write(head_model(self).serialize())
        arrays = {
            name: getattr(self, name)
            for name in ("pca_w", "pca_mean", "class_w", "class_b", "box_w", "box_b")
        }
        np.savez(os.path.join(folder, "detector.npz"), **arrays)
        meta = {
            "task": self.task,
            "labels": self.labels,
            "thresholds": self.thresholds,
            "input_size": SIZE,
            "calibration": {"scale": self.platt.scale, "shift": self.platt.shift},
            "backbone": self.backbone,
        }
        with open(os.path.join(folder, "model.json"), "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=1)

    @classmethod
    def load(cls, folder: str) -> DetectorModel:
        """The model in `folder`, every value checked (`model_files.ModelFileError`)."""
        meta = model_files.metadata(folder)
        labels = model_files.labels(meta)
        try:
            with np.load(os.path.join(folder, "detector.npz")) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError, KeyError) as error:
            raise model_files.ModelFileError(f"detector.npz: {error}") from None
        width, classes = 5 * PCA_DIM + 4 * C16 + 4, len(labels) + 1
        shapes = {
            "pca_w": (1280, PCA_DIM),
            "pca_mean": (1280,),
            "class_w": (width, classes),
            "class_b": (classes,),
            "box_w": (width, 4),
            "box_b": (4,),
        }
        if set(arrays) != set(shapes):
            raise model_files.ModelFileError("detector.npz: not the detector's arrays")
        for name, shape in shapes.items():
            model_files.array(arrays[name], name, shape)
        scaling = meta.get("calibration", {})  # identity for models saved before calibration
        if not isinstance(scaling, dict) or not set(scaling) <= {"scale", "shift"}:
            raise model_files.ModelFileError("calibration: not a scale and a shift")
        model = cls(
            labels,
            **arrays,
            thresholds=model_files.thresholds(meta, labels),
            platt=calibration.Platt(
                **{key: model_files.number(value, key) for key, value in scaling.items()}
            ),
            backbone=model_files.precision(meta),
        )
        with open(os.path.join(folder, "head.onnx"), "rb") as handle:
            session = features.serving_session(handle.read())
        outputs = {o.name: o.shape for o in session.get_outputs()}
        if outputs.get("det_scores", [None, None])[1] != classes:
            raise model_files.ModelFileError("head.onnx: does not score the model's labels")
        model._session = session
        return model


def nms(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """Greedy NMS at IoU 0.3, also dropping boxes mostly inside a kept one (or containing it)."""
    order = list(np.argsort(-scores, kind="stable"))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) + 1e-9
    keep = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=np.int64)
        keep.append(int(best))
        if not len(rest):
            break
        overlap = iou(boxes[best : best + 1], boxes[rest])[0]
        ix = np.clip(
            np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]),
            0,
            None,
        )
        iy = np.clip(
            np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]),
            0,
            None,
        )
        inter = ix * iy
        drop = (
            (overlap >= NMS_IOU) | (inter / area[rest] >= CONTAIN) | (inter / area[best] >= CONTAIN)
        )
        order = list(rest[~drop])
    return keep


def postprocess(scores: np.ndarray, boxes: np.ndarray) -> list[tuple[int, float, np.ndarray]]:
    """(label index, score, box) of the kept detections, best first."""
    classes = scores[:, 1:].argmax(1)
    best = scores[np.arange(len(scores)), classes + 1]
    candidates = np.flatnonzero(best >= MIN_SCORE)
    kept = [candidates[k] for k in nms(boxes[candidates], best[candidates])]
    out = [(int(classes[i]), float(best[i]), boxes[i]) for i in kept]
    out.sort(key=lambda item: -item[1])
    return out[:MAX_DETECTIONS]


# -- training -----------------------------------------------------------------------------------


@dataclass
class BoxExample:
    load: Callable[[], bytes]  # the image's bytes, read when needed: memory holds one at a time
    boxes: np.ndarray  # [n, 4] ratios
    labels: list[str]


def _softmax_minibatch(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    seed: int,
    l2: float = 1e-4,
    epochs: int = 8,
    batch: int = 512,
    rate: float = 3e-3,
) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(0, dtype=np.float64).astype(np.float32)
    scale = np.sqrt(_variance(x, mean)) + 1e-3
    n, d = x.shape
    w = np.zeros((d, classes), np.float32)
    b = np.log(np.bincount(y, minlength=classes) / n + 1e-6).astype(np.float32)
    mw, vw, mb, vb = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    rng = np.random.default_rng(seed)
    steps = epochs * int(np.ceil(n / batch))
    step = 0
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            index = order[start : start + batch]
            z = (x[index] - mean) / scale
            logits = z @ w + b
            logits -= logits.max(1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(index)), y[index]] -= 1
            p /= len(index)
            step += 1
            lr = rate * 0.5 * (1 + np.cos(np.pi * step / steps))
            gw, gb = z.T @ p + l2 * w, p.sum(0)
            mw = 0.9 * mw + 0.1 * gw
            vw = 0.999 * vw + 0.001 * gw * gw
            mb = 0.9 * mb + 0.1 * gb
            vb = 0.999 * vb + 0.001 * gb * gb
            c1, c2 = 1 - 0.9**step, 1 - 0.999**step
            w -= lr * (mw / c1) / (np.sqrt(vw / c2) + 1e-8)
            b -= lr * (mb / c1) / (np.sqrt(vb / c2) + 1e-8)
    return (w / scale[:, None]).astype(np.float32), (b - (mean / scale) @ w).astype(np.float32)


def _variance(x: np.ndarray, mean: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Column variance in chunks, without a temporary as large as `x`."""
    total = np.zeros(x.shape[1], np.float64)
    for start in range(0, len(x), chunk):
        total += ((x[start : start + chunk] - mean) ** 2).sum(0)
    return (total / len(x)).astype(np.float32)


def _ridge(
    x: np.ndarray, rows: np.ndarray, t: np.ndarray, strength: float = 0.1, chunk: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of `t` on the rows `rows` of `x` (standardised, closed form), built in
    chunks so that no standardised copy of the rows exists at once."""
    total = np.zeros(x.shape[1], np.float64)
    for i in range(0, len(rows), chunk):
        total += x[rows[i : i + chunk]].sum(0, dtype=np.float64)
    mean = (total / len(rows)).astype(np.float32)
    variance = np.zeros(x.shape[1], np.float64)
    for i in range(0, len(rows), chunk):
        variance += ((x[rows[i : i + chunk]] - mean) ** 2).sum(0)
    scale = (np.sqrt(variance / len(rows)) + 1e-3).astype(np.float32)
    centred_t = (t - t.mean(0)).astype(np.float32)
    gram = np.zeros((x.shape[1], x.shape[1]), np.float64)
    cross = np.zeros((x.shape[1], t.shape[1]), np.float64)
    for i in range(0, len(rows), chunk):
        z = (x[rows[i : i + chunk]] - mean) / scale
        gram += z.T @ z
        cross += z.T @ centred_t[i : i + chunk]
    gram += strength * len(rows) * np.eye(x.shape[1])
    wz = np.linalg.solve(gram, cross).astype(np.float32)
    return (wz / scale[:, None]).astype(np.float32), (t.mean(0) - (mean / scale) @ wz).astype(
        np.float32
    )


def _view_boxes(example: BoxExample, mirrored: bool) -> np.ndarray:
    boxes = example.boxes.astype(np.float32)
    if mirrored:
        boxes = np.stack([1 - boxes[:, 2], boxes[:, 1], 1 - boxes[:, 0], boxes[:, 3]], 1)
    return boxes


def _sample_rois(
    boxes: np.ndarray, rng: np.random.Generator, negatives: int
) -> tuple[np.ndarray, int]:
    """The boxes one view trains on: matching anchors, background anchors (half of them near an
    object), jittered copies of the true boxes. Returns (rois, number of matching anchors)."""
    overlap = iou(ANCHORS, boxes)
    best = overlap.max(1)
    forced = overlap.argmax(0)
    positives = np.union1d(
        np.flatnonzero(best >= 0.5), forced[overlap[forced, np.arange(len(boxes))] >= 0.3]
    )
    background = np.flatnonzero(best < 0.5)
    hard = background[best[background] >= 0.1]
    chosen = np.concatenate(
        [
            rng.choice(hard, min(len(hard), negatives // 2), replace=False),
            rng.choice(background, min(len(background), negatives // 2), replace=False),
        ]
    )
    jitter = np.repeat(boxes, 4, 0)
    size = np.repeat(boxes[:, 2:] - boxes[:, :2], 4, 0)
    jitter = np.clip(
        jitter + rng.uniform(-0.15, 0.15, jitter.shape) * np.concatenate([size, size], 1), 0, 1
    )
    jitter = jitter[(jitter[:, 2] - jitter[:, 0] > 0.02) & (jitter[:, 3] - jitter[:, 1] > 0.02)]
    rois = np.concatenate([ANCHORS[positives], ANCHORS[chosen], jitter]).astype(np.float32)
    return rois, len(positives)


def train(
    examples: Sequence[BoxExample],
    seed: int = 0,
    negatives: int = 64,
    precision: str = features.LEGACY_PRECISION,
) -> DetectorModel:
    """Fit a detector on every image as it is and mirrored.

    The training boxes of every view are drawn first, so the sample matrix is allocated once at
    its final size and filled view by view: peak memory is one copy of it plus one image and its
    views' maps (images are read one at a time, twice for the first PCA_IMAGES).
    """
    started = time.perf_counter()
    labels = sorted({label for e in examples for label in e.labels})
    rng = np.random.default_rng(seed)
    views = [
        (example, mirrored, *_sample_rois(_view_boxes(example, mirrored), rng, negatives))
        for example in examples
        for mirrored in (False, True)
    ]
    # PCA of the stride-32 map, from the first images
    pixels = np.concatenate(
        [
            feature_maps(features.to_array(features.decode(e.load(), SIZE), SIZE), precision)[
                "fmap32"
            ][0]
            .reshape(1280, -1)
            .T
            for e in examples[:PCA_IMAGES]
        ]
    )
    pca_mean = pixels.mean(0)
    centred = pixels - pca_mean
    _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    pca_w = np.ascontiguousarray(vectors[:, ::-1][:, :PCA_DIM]).astype(np.float32)
    del pixels, centred
    roi_session = sessions.session(roi_feature_model(pca_w, pca_mean).serialize(), 2, arena=False)
    width = 5 * PCA_DIM + 4 * C16 + 4
    samples = np.empty((sum(len(v[2]) for v in views), width), np.float32)
    targets = np.empty(len(samples), np.int64)
    regression_rows, regression_targets = [], []
    row = 0
    maps: dict[str, np.ndarray] = {}
    progress = Progress(len(examples), "localisation images")
    for example, mirrored, rois, matched in views:
        boxes = _view_boxes(example, mirrored)
        classes = np.array([labels.index(label) for label in example.labels], np.int64)
        if not mirrored:  # both views of an image go through the backbone in one batch
            pair = np.stack(features.views(features.decode(example.load(), SIZE), SIZE))
            maps = dict(
                zip(
                    ("fmap16", "fmap32"),
                    features.maps_session(precision).run(["fmap16", "fmap32"], {"image": pair}),
                    strict=True,
                )
            )
        view = {name: value[int(mirrored)][None] for name, value in maps.items()}
        pooled = roi_session.run(
            ["roi_features"], {**view, "rois": rois, "context": context(rois)}
        )[0]
        end = row + len(rois)
        samples[row:end, :-4], samples[row:end, -4:] = pooled, geometry(rois)
        match = iou(rois, boxes)
        best, which = match.max(1), match.argmax(1)
        target = np.where(best >= 0.5, classes[which] + 1, 0)
        target[:matched] = classes[which[:matched]] + 1  # forced matches too
        targets[row:end] = target
        regress = np.flatnonzero(best >= 0.5)
        regression_rows.append(row + regress)
        regression_targets.append(encode(rois[regress], boxes[which[regress]]))
        row = end
        if mirrored:
            progress.advance(pooled=1)
    progress.done()
    log.info(
        "pooled %d training samples from %d views in %.1f s",
        len(samples),
        len(views),
        time.perf_counter() - started,
    )
    class_w, class_b = _softmax_minibatch(samples, targets, len(labels) + 1, seed)
    box_w, box_b = _ridge(
        samples, np.concatenate(regression_rows), np.concatenate(regression_targets)
    )
    del samples
    log.info(
        "trained a detector on %d labels in %.1f s", len(labels), time.perf_counter() - started
    )
    return DetectorModel(
        labels, pca_w, pca_mean, class_w, class_b, box_w, box_b, backbone=precision
    )
