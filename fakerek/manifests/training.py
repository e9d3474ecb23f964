"""Validation of training and test data at CreateProjectVersion (manifests.md §2.7-2.8, §3).

A pure function of the lines (and of image bytes and bucket facts given as callbacks): it runs the
documented evaluation order, decides the use case, and yields the content errors, the manifest
summary and the two validation-result manifests that training writes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fakerek.domain import images
from fakerek.manifests import split
from fakerek.manifests.codes import message
from fakerek.manifests.importer import (
    ImportFailed,
    ImportLimits,
    Tally,
    manifest_chunks,
    open_manifest,
    text_lines,
)
from fakerek.manifests.lines import TRAINING, Limits, Line, check_line, render
from fakerek.s3.objects import Objects

IMAGE_LEVEL_LABELS, OBJECT_LOCALIZATION, NOT_DETERMINED = (
    "IMAGE_LEVEL_LABELS",
    "OBJECT_LOCALIZATION",
    "NOT_DETERMINED",
)
Fetch = Callable[[str, str], bytes | None]
# The code an image earns (None: acceptable), given where it is (bucket, key), its bytes (None:
# not fetched) and whether its line has boxes. A training passes one that also embeds the images
# it decodes.
Inspect = Callable[[tuple[str, str], bytes | None, bool], str | None]
DEFAULT_FILE_LIMITS = ImportLimits()


@dataclass(frozen=True)
class TrainingLimits:
    min_labels_classification: int = 2
    min_labels_detection: int = 1
    max_labels: int = 250
    invalid_row_threshold: float = 0.20
    min_label_overlap: float = 0.50
    line: Limits = Limits()
    image: images.ImageLimits = images.ImageLimits()


@dataclass
class Side:
    """The training or the testing half, after any split."""

    name: str  # training | testing
    lines: list[Line] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    use_case: str = NOT_DETERMINED
    usable: list[Line] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    def labels(self) -> set[str]:
        return set().union(*(line.labels for line in self.lines if line.outcome == "valid"))

    def statistics(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case,
            "total_json_lines": len(self.lines),
            "valid_json_lines": self.count("valid"),
            "invalid_json_lines": self.count("invalid"),
            "ignored_json_lines": self.count("ignored"),
            "error_json_line_indices": [line.number for line in self.lines if line.has_errors],
            "errors": [{"code": c, "message": message(c)} for c in self.errors],
        }

    def validation_manifest(self) -> str:
        return "".join(
            json.dumps(
                render(line, "errors", "warnings"), ensure_ascii=False, separators=(",", ":")
            )
            + "\n"
            for line in self.lines
        )


@dataclass
class Validation:
    training: Side
    testing: Side
    errors: list[str] = field(default_factory=list)  # across both sides (C9, C10)
    auto_split: bool = False

    @property
    def first_error(self) -> str | None:
        ordered = self.training.errors + self.testing.errors + self.errors
        return ordered[0] if ordered else None

    def summary(self) -> dict[str, Any]:
        return {
            "statistics": {
                "training": self.training.statistics(),
                "testing": self.testing.statistics(),
            },
            "errors": [{"code": c, "message": message(c)} for c in self.errors],
        }


def check_output_bucket(objects: Objects, bucket: str) -> None:
    """F6, the first file check of a training: the results must have somewhere to go."""
    if not objects.bucket_exists(bucket):
        raise ImportFailed("ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET")


def read_manifest(
    objects: Objects,
    bucket: str,
    key: str,
    version: str | None,
    limits: ImportLimits = DEFAULT_FILE_LIMITS,
) -> list[str]:
    """An external training or test manifest after its file checks (F5, F1, F3, F1, F2)."""
    tally = Tally()
    stream = open_manifest(objects, bucket, key, version, limits)
    lines = list(text_lines(manifest_chunks(stream), tally))
    if not tally.seen_text:
        raise ImportFailed("ERROR_EMPTY_MANIFEST")
    return lines


def _lines(texts: Sequence[str]) -> list[Line]:
    out, seen = [], set()
    for number, text in enumerate(texts, 1):
        line = check_line(text, number, TRAINING)
        if line.source_ref is not None:
            if line.source_ref in seen:
                line.add("ERROR_INVALID_JSON_LINE")
            seen.add(line.source_ref)
        out.append(line)
    return out


def validate(
    train_texts: Sequence[str],
    test_texts: Sequence[str] | None,
    *,
    fetch: Fetch | None,
    denied: Container[str] = frozenset(),
    owners: dict[str, str] | None = None,
    reference_owner: str = "",
    limits: TrainingLimits = TrainingLimits(),
    across: bool = True,
    inspect: Inspect | None = None,
) -> Validation:
    """Steps 2-7 of §2.8. `test_texts=None` asks for an auto-split of the training lines;
    `across=False` skips the checks that compare the two sides (for one manifest alone);
    `inspect` replaces the image check (`images.check` with the limits' image limits)."""
    train_lines = _lines(train_texts)
    result = Validation(Side("training"), Side("testing"), auto_split=test_texts is None)
    if test_texts is None:
        chosen = set(split.choose([_split_entry(line) for line in train_lines]))
        if not chosen:
            result.training.lines = [line.finish() for line in train_lines]
            result.training.errors.append("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT")
            return result
        kept = [line for line in train_lines if line.number not in chosen]
        moved = [line for line in train_lines if line.number in chosen]
        for number, line in enumerate(kept, 1):
            line.number = number
        for number, line in enumerate(moved, 1):
            line.number = number
        result.training.lines, result.testing.lines = kept, moved
    else:
        result.training.lines, result.testing.lines = train_lines, _lines(test_texts)
    sides = (result.training, result.testing)
    for side, lines in _manifests(result):
        _bucket_checks(side, lines, denied, owners or {}, reference_owner)
        blocked = {
            "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET",
            "ERROR_INVALID_IMAGES_S3_BUCKET_OWNER",
        } & set(side.errors)
        fetched = None if blocked else _images(lines, fetch, limits, inspect)
        for line in lines:
            line.finish()
        if fetched is not None:
            _rows_checks(side, lines, fetched, limits)
    if any(
        c in side.errors
        for side in sides
        for c in ("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", "ERROR_FAILED_IMAGES_S3_COPY")
    ):
        return result
    _use_case_and_labels(result, limits, across)
    return result


def _split_entry(line: Line) -> split.Entry:
    return split.Entry(
        line.number, line.is_labeled, line.labels, line.source_ref or f"line {line.number}"
    )


def _manifests(result: Validation) -> list[tuple[Side, list[Line]]]:
    """The manifests the file-wide checks apply to, with the side that reports them: an
    auto-split manifest is checked whole, as the guide's 20 % rule reads (issue 12)."""
    training, testing = result.training, result.testing
    if result.auto_split:
        return [(training, training.lines + testing.lines)]
    return [(training, training.lines), (testing, testing.lines)]


def _bucket_checks(
    side: Side,
    lines: list[Line],
    denied: Container[str],
    owners: dict[str, str],
    reference_owner: str,
) -> None:
    buckets = {line.bucket for line in lines if line.bucket}
    if len(buckets) > 1:
        side.errors.append("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS")
    if any(bucket in denied for bucket in buckets):
        side.errors.append("ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET")
    elif reference_owner and any(
        owners.get(b, reference_owner) != reference_owner for b in buckets
    ):
        side.errors.append("ERROR_INVALID_IMAGES_S3_BUCKET_OWNER")


def _images(
    lines: list[Line], fetch: Fetch | None, limits: TrainingLimits, inspect: Inspect | None
) -> dict[tuple[str, str], bool]:
    """Step 10 for every line of one manifest; returns whether each location could be fetched.
    Each image is checked as it arrives and its bytes dropped, so memory does not grow with
    the dataset."""
    wanted = [line for line in lines if line.bucket and not line.stopped]
    if fetch is None:
        return {}
    by_location: dict[tuple[str, str], list[Line]] = {}
    for line in wanted:
        by_location.setdefault((line.bucket or "", line.key or ""), []).append(line)

    def check(where: tuple[str, str], data: bytes | None, box_line: bool) -> str | None:
        return images.check(data, box_line, limits.image)

    def fetch_and_check(where: tuple[str, str]) -> tuple[bool, dict[bool, str | None]]:
        data = fetch(*where)
        kinds = {any(a.kind == "box" for a in line.attributes) for line in by_location[where]}
        return data is not None, {box: (inspect or check)(where, data, box) for box in kinds}

    with ThreadPoolExecutor(8) as pool:
        checked = dict(zip(by_location, pool.map(fetch_and_check, by_location), strict=True))
    for where, located in by_location.items():
        for line in located:
            code = checked[where][1][any(a.kind == "box" for a in line.attributes)]
            if code:
                line.add(code)
    return {where: found for where, (found, _) in checked.items()}


def _rows_checks(
    side: Side, lines: list[Line], fetched: dict[tuple[str, str], bool], limits: TrainingLimits
) -> None:
    """C5, then C1, for one manifest."""
    if fetched and not any(fetched.values()):
        side.errors.append("ERROR_FAILED_IMAGES_S3_COPY")
        return
    outcomes = Counter(line.outcome for line in lines)
    considered = len(lines) - outcomes["ignored"]
    if considered and outcomes["invalid"] / considered > limits.invalid_row_threshold:
        side.errors.append("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")


def _kinds(side: Side) -> tuple[int, int]:
    """(lines with a usable image-level label, lines with a usable box) among valid lines."""
    valid = [line for line in side.lines if line.outcome == "valid"]
    image_level = sum(
        1 for line in valid if any(a.usable and a.kind == "image" for a in line.attributes)
    )
    boxes = sum(1 for line in valid if any(a.usable and a.kind == "box" for a in line.attributes))
    return image_level, boxes


def _choose_use_case(training: Side, testing: Side) -> str:
    rc, rd = _kinds(training)
    tc, td = _kinds(testing)
    if rd == 0 and rc > 0 and td > 0:
        return OBJECT_LOCALIZATION  # brand detection: image-level training, boxes to test
    if rc + rd > 0:
        return OBJECT_LOCALIZATION if rd >= rc else IMAGE_LEVEL_LABELS
    if tc + td > 0:
        return OBJECT_LOCALIZATION if td >= tc else IMAGE_LEVEL_LABELS
    return NOT_DETERMINED


def _usable(side: Side, use_case: str) -> tuple[list[Line], set[str]]:
    lines, labels = [], set()
    for line in side.lines:
        if line.outcome != "valid":
            continue
        image = set().union(*(a.labels for a in line.attributes if a.usable and a.kind == "image"))
        boxes = line.box_labels
        if use_case == IMAGE_LEVEL_LABELS and image:
            lines.append(line)
            labels |= image
        elif use_case == OBJECT_LOCALIZATION and (boxes or (side.name == "training" and image)):
            lines.append(line)
            labels |= boxes or image
    return lines, labels


def _use_case_and_labels(result: Validation, limits: TrainingLimits, across: bool) -> None:
    """Step 7: the use case, then C7a/C7b and C8 per side, then C9/C10 across sides."""
    use_case = _choose_use_case(result.training, result.testing)
    minimum = (
        limits.min_labels_classification
        if use_case == IMAGE_LEVEL_LABELS
        else limits.min_labels_detection
    )
    labels: dict[str, set[str]] = {}
    usable_labels: dict[str, set[str]] = {}
    for side in (result.training, result.testing):
        side.use_case = use_case
        labels[side.name] = side.labels()
        side.usable, usable_labels[side.name] = _usable(side, use_case)
        usable = {id(line) for line in side.usable}
        for line in side.lines:
            if line.outcome == "valid" and id(line) not in usable:
                line.outcome = "ignored"
        too_few = len(labels[side.name]) < minimum
        if too_few:
            side.errors.append("ERROR_MANIFEST_TOO_FEW_LABELS")
        if len(labels[side.name]) > limits.max_labels:
            side.errors.append("ERROR_MANIFEST_TOO_MANY_LABELS")
        if not too_few and len(usable_labels[side.name]) < minimum:
            side.errors.append("ERROR_MANIFEST_TOO_FEW_USABLE_LABELS")
    if not across or not labels["training"]:
        return
    if _overlap(labels) < limits.min_label_overlap:
        result.errors.append("ERROR_INSUFFICIENT_LABEL_OVERLAP")
    elif usable_labels["training"] and _overlap(usable_labels) < limits.min_label_overlap:
        result.errors.append("ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP")


def _overlap(labels: dict[str, set[str]]) -> float:
    """Share of the training labels that the test side also has."""
    return len(labels["testing"] & labels["training"]) / len(labels["training"])
