"""Image checks of manifest step 10 (manifests.md §2.5, §6): format by content, size, dimensions.

The same limits serve DetectCustomLabels later; only the error each caller reports differs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 15 * 1024 * 1024
    min_side: int = 64
    max_side: int = 4096
    max_aspect: float = 20.0


def image_format(data: bytes) -> str | None:
    """'PNG' or 'JPEG' from the magic bytes, else None."""
    if data.startswith(PNG):
        return "PNG"
    if data.startswith(JPEG):
        return "JPEG"
    return None


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from the image header, or None when it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def check(data: bytes | None, box_line: bool, limits: ImageLimits = ImageLimits()) -> str | None:
    """The line-level code an image earns at training, or None when it is acceptable."""
    if data is None or len(data) > limits.max_bytes or image_format(data) is None:
        return "ERROR_INVALID_IMAGE"
    size = dimensions(data)
    if size is None or max(size) > limits.max_aspect * min(size):
        return "ERROR_INVALID_IMAGE"
    if min(size) < limits.min_side or max(size) > limits.max_side:
        return "ERROR_INVALID_IMAGE_DIMENSION" if box_line else "ERROR_INVALID_IMAGE"
    return None
