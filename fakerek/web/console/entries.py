"""Dataset entries as the console shows and edits them.

Reading: an entry of ListDatasetEntries is parsed with the import's own line checker, so the
labels and boxes shown are exactly those the service counts. Writing: what the labeling page did
to an image becomes one manifest line (image-level labels in the CSV converter's format, boxes
in one object-detection attribute) for UpdateDatasetEntries, which replaces the entry with the
same `source-ref`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from fakerek.api.wire import JsonObject
from fakerek.manifests import converters
from fakerek.manifests.lines import IMPORT, OBJECT_DETECTION, check_line, parse_source_ref

JOB_NAME = "fakerek-console"


@dataclass(frozen=True)
class Box:
    """A bounding box in ratios of the image's width and height."""

    label: str
    left: float
    top: float
    width: float
    height: float


@dataclass
class Entry:
    source_ref: str
    bucket: str
    key: str
    labeled: bool
    labels: list[str] = field(default_factory=list)  # image-level
    boxes: list[Box] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)  # cl-errors: code, message

    @property
    def all_labels(self) -> list[str]:
        return sorted(set(self.labels) | {box.label for box in self.boxes})

    def as_json(self) -> JsonObject:
        """What the labeling script needs of the entry."""
        return {
            "sourceRef": self.source_ref,
            "labels": self.labels,
            "boxes": [asdict(box) for box in self.boxes],
        }


def parse(text: str) -> Entry:
    """An entry of ListDatasetEntries (JSON text with `cl-errors` and `cl-metadata`)."""
    obj = json.loads(text)
    line = check_line(text, 1, IMPORT)
    bucket, key = parse_source_ref(obj.get("source-ref")) or ("", "")
    labeled = (obj.get("cl-metadata") or {}).get("is_labeled", line.is_labeled)
    return Entry(
        source_ref=obj.get("source-ref", ""),
        bucket=bucket,
        key=key,
        labeled=bool(labeled),
        labels=sorted(line.image_labels()),
        boxes=[Box(label, x1, y1, x2 - x1, y2 - y1) for label, (x1, y1, x2, y2) in line.boxes()],
        errors=list(_errors(obj)),
    )


def _errors(value: Any) -> Any:
    """Every `cl-errors` item, wherever the service wrote it (line, attribute, annotation)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "cl-errors" and isinstance(item, list):
                yield from (e for e in item if isinstance(e, dict))
            else:
                yield from _errors(item)
    elif isinstance(value, list):
        for item in value:
            yield from _errors(item)


class EditError(ValueError):
    """An edit the page sent cannot become a manifest line; the message says why."""


def edited_line(
    source_ref: str, labels: list[str], boxes: list[Box], size: tuple[int, int] | None
) -> JsonObject:
    """The manifest line of an image after labeling: `size` (pixels) is needed for boxes."""
    try:
        [line] = converters.from_csv([[source_ref, *labels]])
    except converters.ConversionError as error:
        raise EditError(str(error).split(": ", 1)[-1]) from None
    if not boxes:
        return line
    if size is None:
        raise EditError(f"{source_ref} cannot be read, so boxes cannot be placed on it")
    width, height = size
    attribute = _free_name(line, "bounding-box")
    classes = sorted({box.label for box in boxes})
    line[attribute] = {
        "image_size": [{"width": width, "height": height, "depth": 3}],
        "annotations": [_pixels(box, width, height, classes.index(box.label)) for box in boxes],
    }
    line[f"{attribute}-metadata"] = {
        "objects": [{"confidence": 1} for _ in boxes],
        "class-map": {str(i): label for i, label in enumerate(classes)},
        "type": OBJECT_DETECTION,
        "human-annotated": "yes",
        "creation-date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "job-name": JOB_NAME,
    }
    return line


def _free_name(line: JsonObject, wanted: str) -> str:
    name, number = wanted, 0
    while name in line or f"{name}-metadata" in line:
        number += 1
        name = f"{wanted}-{number}"
    return name


def _pixels(box: Box, width: int, height: int, class_id: int) -> dict[str, int]:
    """The box in whole pixels, kept inside the image."""
    left = min(max(round(box.left * width), 0), width - 1)
    top = min(max(round(box.top * height), 0), height - 1)
    return {
        "left": left,
        "top": top,
        "width": max(1, min(round(box.width * width), width - left)),
        "height": max(1, min(round(box.height * height), height - top)),
        "class_id": class_id,
    }


def read_edits(payload: Any) -> list[tuple[str, list[str], list[Box]]]:
    """(source-ref, labels, boxes) of each image the page changed, from its JSON payload."""
    items = payload.get("entries") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise EditError("nothing to save")
    out = []
    for item in items:
        try:
            source_ref = item["sourceRef"]
            labels = [str(label) for label in item["labels"]]
            boxes = [
                Box(
                    str(b["label"]),
                    *(float(b[k]) for k in ("left", "top", "width", "height")),
                )
                for b in item["boxes"]
            ]
        except (KeyError, TypeError, ValueError):
            raise EditError(
                "each entry is {sourceRef, labels: [...], boxes: [{label, left, top, width, "
                "height}]}"
            ) from None
        if not isinstance(source_ref, str) or parse_source_ref(source_ref) is None:
            raise EditError(f"{source_ref!r} is not an s3:// source-ref")
        out.append((source_ref, labels, boxes))
    return out
