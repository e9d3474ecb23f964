"""Image checks of manifest step 10 (manifests.md §2.5, §6) and of DetectCustomLabels: format by
content, size, dimensions, then a decode that proves the pixels are all there.

The same limits serve training and DetectCustomLabels; only the error each caller reports
differs. Dimensions come from the header alone and are checked before any pixel is decoded, so
no image is ever decoded beyond what its declared size allows; Pillow's own decompression-bomb
limit is set to the largest image the limits accept, as a second line of defence. Pillow is
imported with the first image (`pillow()`), not when the server starts.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import threading
import zlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL import Image

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"
Problem = Literal["format", "resolution", "dimensions"]
# What Pillow raises on bytes that are not a whole image (truncated, corrupt data stream, bad
# chunk checksum, impossible header values).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error)


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 15 * 1024 * 1024
    min_side: int = 64
    max_side: int = 4096
    max_aspect: float = 20.0


LIMITS = ImageLimits()
# Rekognition Image's limits, which Custom Moderation adapters and DetectModerationLabels follow:
# 15 MB from S3, sides from 80 to 10,000 pixels, any aspect ratio.
MODERATION_LIMITS = ImageLimits(min_side=80, max_side=10_000, max_aspect=math.inf)


# Decodes larger than the largest Custom Labels image (a PNG up to Rekognition Image's 10,000
# pixels a side holds 300 MB decoded: PNG has no reduced decode, unlike JPEG's draft) take turns,
# so that concurrent requests cannot add them up.
LARGE_DECODE_PIXELS = LIMITS.max_side * LIMITS.max_side
_large_decode = threading.Lock()


@functools.cache
def pillow() -> ModuleType:
    """Pillow's Image module, with its decompression-bomb limit set: it warns above
    MAX_IMAGE_PIXELS and refuses above twice that, and nothing larger than the largest image
    the limits accept is ever meant to be decoded. Every decode of fakerek goes through here."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = LIMITS.max_side * LIMITS.max_side
    return Image


class ImageProblem(ValueError):
    """The image cannot be used: `problem` says why (callers map it to their own error)."""

    def __init__(self, problem: Problem, detail: str = "", aspect: bool = False):
        super().__init__(detail or problem)
        self.problem: Problem = problem
        self.aspect = aspect  # the size problem is the aspect ratio


def image_format(data: bytes) -> str | None:
    """'PNG' or 'JPEG' from the magic bytes, else None."""
    if data.startswith(PNG):
        return "PNG"
    if data.startswith(JPEG):
        return "JPEG"
    return None


def _header(data: bytes) -> Image.Image:
    """The image with its header read and no pixel decoded. Pillow's plugin classes are used
    directly: `Image.open` would refuse a huge declared size as a decompression bomb before the
    resolution check could answer it."""
    kind = image_format(data)
    if kind is None:
        raise ImageProblem("format", "neither PNG nor JPEG")
    pillow()
    from PIL import JpegImagePlugin, PngImagePlugin

    plugin = PngImagePlugin.PngImageFile if kind == "PNG" else JpegImagePlugin.JpegImageFile
    try:
        return plugin(io.BytesIO(data))
    except DECODE_ERRORS as error:
        raise ImageProblem("format", f"unreadable header: {error}") from None


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from the image header, or None when there is no readable header."""
    try:
        return _header(data).size
    except ImageProblem:
        return None


def checked_header(data: bytes, limits: ImageLimits = LIMITS) -> Image.Image:
    """The image, header read and its size checked in the service's order: format, then
    resolution (ImageTooLarge on AWS), then the smallest side and the aspect ratio."""
    image = _header(data)
    width, height = image.size
    aspect = max(width, height) > limits.max_aspect * min(width, height)
    if max(width, height) > limits.max_side:
        raise ImageProblem("resolution", f"{width}x{height}", aspect)
    if min(width, height) < limits.min_side or aspect:
        raise ImageProblem("dimensions", f"{width}x{height}", aspect)
    return image


def decode(data: bytes, size: int, limits: ImageLimits = LIMITS) -> Image.Image:
    """The checked image, decoded no larger than needed for a `size`×`size` input (JPEG decoding
    scales down by powers of two for free) and whole: a truncated or corrupt image is a
    "format" problem, found here rather than when its pixels are used."""
    image = checked_header(data, limits)
    try:
        image.draft("RGB", (size, size))
        if image.size[0] * image.size[1] > LARGE_DECODE_PIXELS:
            with _large_decode:
                image.load()
        else:
            image.load()
    except DECODE_ERRORS as error:
        raise ImageProblem("format", f"undecodable: {error}") from None
    return image


def check(
    data: bytes | None, box_line: bool, limits: ImageLimits = LIMITS, size: int = 1
) -> str | None:
    """The line-level code an image earns at training, or None when it is acceptable. The
    decode (at the smallest scale unless `size` asks for more) proves the image whole: a JPEG's
    every block is still read."""
    try:
        decode(usable_bytes(data, limits), size, limits)
    except ImageProblem as problem:
        return code(problem, box_line, limits)
    return None


def usable_bytes(data: bytes | None, limits: ImageLimits = LIMITS) -> bytes:
    """The bytes of a fetched image that is not too large to consider."""
    if data is None or len(data) > limits.max_bytes:
        raise ImageProblem("format", "missing or too large")
    return data


def code(problem: ImageProblem, box_line: bool, limits: ImageLimits = LIMITS) -> str:
    """The line-level code of an image's problem: a bad size is a dimension error on a line
    with boxes (unless the aspect ratio is wrong), an invalid image otherwise."""
    if problem.problem == "format" or not box_line or problem.aspect:
        return "ERROR_INVALID_IMAGE"
    return "ERROR_INVALID_IMAGE_DIMENSION"
