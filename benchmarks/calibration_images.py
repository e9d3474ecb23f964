"""Writes fakerek/ml/calibration_images/: the photos the int8 backbone is calibrated on.

Centre crops of CC0 / public-domain photos that scikit-image ships (provenance in the folder's
README.md), 256×256 JPEGs. None is a background of training_bench.py's held-out test images.
Run once after changing the list:
pip install -e ".[bench]" && python benchmarks/calibration_images.py
"""

from __future__ import annotations

import os

from PIL import Image
from skimage import data

PHOTOS = (
    "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina",
    "immunohistochemistry", "coins", "text", "camera", "brick", "grass", "horse",
)  # fmt: skip
SIDE = 256
FOLDER = os.path.join(os.path.dirname(__file__), "..", "fakerek", "ml", "calibration_images")


def main() -> None:
    os.makedirs(FOLDER, exist_ok=True)
    for name in PHOTOS:
        array = getattr(data, name)()
        if array.dtype == bool:
            array = (~array * 255).astype("uint8")
        image = Image.fromarray(array).convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((SIDE, SIDE))
        image.save(os.path.join(FOLDER, f"{name}.jpg"), "JPEG", quality=90)


if __name__ == "__main__":
    main()
