"""Manifest converters (manifests.md §5): CSV, SageMaker Ground Truth multi-label, COCO; and
CSV to an adapter (Custom Moderation) manifest.

Each returns the manifest lines as dicts; the CLI writes them. Every line they make passes the
per-line validation without error.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from fakerek.domain.taxonomy import Taxonomy
from fakerek.manifests.adapters import GROUND_TRUTH, LABELS

IMAGE_LEVEL = "groundtruth/image-classification"


class ConversionError(ValueError):
    """The input cannot be converted; the message says where and why."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


# -- CSV (§5.1) ---------------------------------------------------------------------------------


def csv_duplicates(rows: Iterable[list[str]]) -> tuple[list[list[str]], list[list[str]]]:
    """(first occurrences, later occurrences) keyed by the first column; blank rows skipped."""
    seen: set[str] = set()
    firsts: list[list[str]] = []
    repeats: list[list[str]] = []
    for row in rows:
        if not "".join(row).strip():
            continue
        (repeats if row[0] in seen else firsts).append(row)
        seen.add(row[0])
    return firsts, repeats


def from_csv(rows: Iterable[list[str]], s3_path: str = "") -> list[dict[str, Any]]:
    """One image-level line per row: column 1 is the image, columns 2.. its labels."""
    lines = []
    for number, row in enumerate(rows, 1):
        if not "".join(row).strip():
            continue
        image = row[0].strip()
        source_ref = s3_path + image
        if not source_ref.lower().startswith("s3://"):
            raise ConversionError(f"row {number}: {image!r} is not an S3 URI; give --s3-path")
        line: dict[str, Any] = {"source-ref": source_ref}
        for label in (cell.strip() for cell in row[1:]):
            if not label:
                continue
            if label == "source-ref" or label.endswith("-metadata"):
                raise ConversionError(f"row {number}: {label!r} cannot be a label name here")
            line[label] = 1
            line[f"{label}-metadata"] = {
                "confidence": 1,
                "job-name": f"labeling-job/{label}",
                "class-name": label,
                "human-annotated": "yes",
                "creation-date": _now(),
                "type": IMAGE_LEVEL,
            }
        lines.append(line)
    return lines


def moderation_from_csv(
    rows: Iterable[list[str]], taxonomy: Taxonomy, s3_path: str = ""
) -> list[dict[str, Any]]:
    """One adapter (Custom Moderation) line per row: column 1 is the image, columns 2.. the
    moderation categories it shows; a row without any is an image without unsafe content."""
    lines = []
    for number, row in enumerate(rows, 1):
        if not "".join(row).strip():
            continue
        source_ref = s3_path + row[0].strip()
        if not source_ref.lower().startswith("s3://"):
            raise ConversionError(f"row {number}: {row[0]!r} is not an S3 URI; give --s3-path")
        names = [cell.strip() for cell in row[1:] if cell.strip()]
        for name in names:
            if name not in taxonomy:
                hint = taxonomy.closest(name)
                raise ConversionError(
                    f"row {number}: {name!r} is not a moderation category"
                    + (f" (did you mean {hint!r}?)" if hint else "")
                )
        lines.append(
            {
                "source-ref": source_ref,
                GROUND_TRUTH: {LABELS: [{"Name": name} for name in dict.fromkeys(names)]},
            }
        )
    return lines


def read_csv(path: str, quotechar: str = '"') -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter=",", quotechar=quotechar))


# -- Ground Truth multi-label (§5.2) ------------------------------------------------------------


def from_groundtruth(lines: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
            job = [k for k in item if "source-ref" not in k and "-metadata" not in k][-1]
            meta = item[f"{job}-metadata"]
            line: dict[str, Any] = {"source-ref": item["source-ref"]}
            for index, class_id in enumerate(item[job]):
                line[f"{job}{index}"] = index
                line[f"{job}{index}-metadata"] = {
                    "class-name": meta["class-map"][str(class_id)],
                    "confidence": meta["confidence-map"][str(class_id)],
                    "type": IMAGE_LEVEL,
                    "job-name": meta["job-name"],
                    "human-annotated": meta["human-annotated"],
                    "creation-date": meta["creation-date"],
                }
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise ConversionError(
                f"line {number}: not a Ground Truth multi-label line "
                f"({type(error).__name__}: {error})"
            ) from None
        out.append(line)
    return out


# -- COCO (§5.3) --------------------------------------------------------------------------------


def from_coco(
    coco: dict[str, Any],
    bucket: str,
    image_prefix: str,
    job_name: str,
    attribute: str = "bounding-box",
) -> list[dict[str, Any]]:
    try:
        categories = {c["id"]: c["name"] for c in coco["categories"]}
        by_image: dict[Any, list[dict[str, Any]]] = {}
        for annotation in coco["annotations"]:
            by_image.setdefault(annotation["image_id"], []).append(annotation)
        lines = []
        for image in coco["images"]:
            url = image.get("coco_url") or ""
            source_ref = (
                url
                if url.startswith("s3://")
                else (f"s3://{bucket}/{image_prefix}{image['file_name']}")
            )
            annotations, objects, class_map = [], [], {}
            for annotation in by_image.get(image["id"], []):
                left, top, width, height = annotation["bbox"]
                annotations.append(
                    {
                        "left": left,
                        "top": top,
                        "width": width,
                        "height": height,
                        "class_id": annotation["category_id"],
                    }
                )
                class_map[str(annotation["category_id"])] = categories[annotation["category_id"]]
                objects.append({"confidence": 1})
            captured = dt.datetime.strptime(image["date_captured"], "%Y-%m-%d %H:%M:%S")
            lines.append(
                {
                    "source-ref": source_ref,
                    attribute: {
                        "image_size": [
                            {"width": image["width"], "depth": 3, "height": image["height"]}
                        ],
                        "annotations": annotations,
                    },
                    f"{attribute}-metadata": {
                        "job-name": job_name,
                        "class-map": class_map,
                        "human-annotated": "yes",
                        "objects": objects,
                        "creation-date": captured.strftime("%Y-%m-%dT%H:%M:%S"),
                        "type": "groundtruth/object-detection",
                    },
                }
            )
        return lines
    except (KeyError, TypeError, ValueError) as error:
        raise ConversionError(
            f"not a COCO object-detection file ({type(error).__name__}: {error})"
        ) from None


def dumps(lines: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
