"""Synthetic photos for the tests: coloured shapes on textured backgrounds, seeded.

Instance-level and easy compared with real user data, but real images through the real pipeline:
enough to tell a model that learned from one that did not.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ("circle", "square", "triangle")


def background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    noise = rng.integers(0, 255, (size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(noise).resize(size, Image.BILINEAR)
    return image.filter(ImageFilter.GaussianBlur(2))


def draw(
    image: Image.Image, shape: str, box: tuple[int, int, int, int], colour: tuple[int, int, int]
) -> None:
    pen = ImageDraw.Draw(image)
    left, top, right, bottom = box
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    else:
        pen.polygon([((left + right) // 2, top), (right, bottom), (left, bottom)], fill=colour)


def scene(
    seed: int, shapes: list[str], size: tuple[int, int] = (320, 240), kind: str = "JPEG"
) -> tuple[bytes, list[tuple[str, tuple[int, int, int, int]]]]:
    """An image with the given shapes placed without overlap; returns (bytes, boxes in px)."""
    rng = np.random.default_rng(seed)
    image = background(rng, size)
    boxes = []
    for index, shape in enumerate(shapes):
        side = int(rng.integers(60, 100))
        slot = size[0] // max(1, len(shapes))
        left = index * slot + int(rng.integers(0, max(1, slot - side)))
        top = int(rng.integers(0, size[1] - side))
        colour = tuple(int(c) for c in rng.integers(30, 255, 3))
        box = (left, top, left + side, top + side)
        draw(image, shape, box, colour)
        boxes.append((shape, box))
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue(), boxes
