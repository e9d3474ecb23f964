"""Small JPEG renditions of users' images for the gallery and the box editor.

Made with Pillow from the S3 object's bytes and kept on disk under the data directory, named by
the SHA-256 of those bytes and the size: an overwritten object gets a new rendition, and one
image shared by many entries or datasets is resized once. Pixels are used as stored (EXIF
orientation ignored), as training reads them, so boxes drawn over a rendition line up.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile

from fakerek.domain.images import ImageLimits, pillow
from fakerek.s3.objects import ObjectError, Objects

SIZES = {"thumb": 320, "large": 1024}
FOLDER = "console-thumbnails"


class Unavailable(Exception):
    """The object cannot be read or is not an image."""


def resize(data: bytes, side: int) -> bytes:
    """`data` as a JPEG whose longer side is at most `side` pixels."""
    image_module = pillow()  # with the decompression-bomb limit set
    try:
        with image_module.open(io.BytesIO(data)) as image:
            image.draft("RGB", (side, side))
            rgb = image.convert("RGB")
    except (OSError, ValueError, image_module.DecompressionBombError):  # unidentified: OSError
        raise Unavailable("not a readable image") from None
    rgb.thumbnail((side, side))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=82)
    return out.getvalue()


def rendition(objects: Objects, data_dir: str, bucket: str, key: str, size: str) -> bytes:
    """The cached rendition of s3://bucket/key at `size` (a key of SIZES)."""
    try:
        data = objects.read(bucket, key, limit=ImageLimits().max_bytes + 1)
    except ObjectError as error:
        raise Unavailable(str(error)) from None
    digest = hashlib.sha256(data).hexdigest()
    folder = os.path.join(data_dir, FOLDER)
    path = os.path.join(folder, f"{digest}-{SIZES[size]}.jpg")
    try:
        with open(path, "rb") as cached:
            return cached.read()
    except FileNotFoundError:
        pass
    small = resize(data, SIZES[size])
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as handle:
        handle.write(small)
    os.replace(handle.name, path)
    return small
