"""Validation of one manifest line (spec manifests.md §2.5), shared by every caller.

`check_line` runs steps 1-9 of the per-line algorithm; the caller adds what needs more than the
line (duplicates, step 6; image checks, step 10) and then calls `Line.finish()` for step 11.
Each problem remembers where it belongs (line, attribute, metadata or one annotation), so that
`render` can write it where the user looks: `cl-errors` in dataset entries, `errors` and
`warnings` in the training validation manifests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal, NoReturn, TypeGuard

from fakerek.api.json_text import parse_json
from fakerek.api.wire import JsonObject
from fakerek.manifests.codes import PRIORITY, message

IMAGE_LEVEL = "groundtruth/image-classification"
OBJECT_DETECTION = "groundtruth/object-detection"
SERVICE_KEYS = frozenset({"errors", "warnings", "cl-errors", "cl-metadata"})
IMPORT, TRAINING = "import", "training"
_SOURCE_REF = re.compile(r"[sS]3://([^/]+)/(.+)", re.DOTALL)
_BUCKET = re.compile(r"[a-z0-9.-]{3,63}")


# Where in a line a problem is: the line, an attribute, its metadata, one of its annotations.
Place = Literal["line", "attribute", "metadata", "annotation"]


@dataclass(frozen=True)
class Limits:
    """The per-line limits of manifests.md §0 (settings can override them)."""

    max_line_chars: int = 100_000
    max_boxes_per_image: int = 50
    max_label_chars: int = 256
    image_min_side: int = 64
    image_max_side: int = 4096
    resize_max_side: int = 1280


@dataclass
class Problem:
    code: str
    where: Place = "line"
    attribute: str | None = None
    index: int | None = None

    @property
    def is_error(self) -> bool:
        return self.code.startswith("ERROR_")

    def as_json(self) -> dict[str, str]:
        details = {"attribute": self.attribute} if self.attribute else {}
        return {"code": self.code, "message": message(self.code, **details)}


@dataclass
class Attribute:
    name: str
    kind: str  # image | box | other
    valid: bool = True
    annotations: int = 0
    labels: set[str] = field(default_factory=set)
    image_size: tuple[int, int] | None = None

    @property
    def usable(self) -> bool:
        """Valid and carrying at least one label."""
        return self.valid and bool(self.labels)


@dataclass
class Line:
    number: int  # 1-based position in its manifest
    obj: JsonObject | None = None  # the parsed line, service keys stripped
    source_ref: str | None = None
    bucket: str | None = None
    key: str | None = None
    problems: list[Problem] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    is_labeled: bool = False
    stopped: bool = False  # a priority error ended the checks
    dropped: bool = False  # IMPORT: a terminal content error removes the line
    outcome: str = ""  # valid | invalid | ignored, set by finish()

    def add(
        self,
        code: str,
        where: Place = "line",
        attribute: str | None = None,
        index: int | None = None,
    ) -> None:
        """Record a problem; a code already listed in the same place is not listed again (the
        manifest's image size and the image itself can both be out of range)."""
        problem = Problem(code, where, attribute, index)
        if problem not in self.problems:
            self.problems.append(problem)
        if code in PRIORITY:
            self.stopped = True

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    @property
    def labels(self) -> set[str]:
        return set().union(*(a.labels for a in self.attributes if a.valid))

    @property
    def box_labels(self) -> set[str]:
        return set().union(*(a.labels for a in self.attributes if a.valid and a.kind == "box"))

    def image_labels(self) -> set[str]:
        return set().union(*(a.labels for a in self.attributes if a.valid and a.kind == "image"))

    def boxes(self) -> list[tuple[str, tuple[float, float, float, float]]]:
        """(label, (x1, y1, x2, y2) as ratios of the declared image size) of every valid box."""
        dropped = {(p.attribute, p.index) for p in self.problems if p.where == "annotation"}
        out = []
        for attribute in self.attributes:
            if (
                attribute.kind != "box"
                or not attribute.valid
                or self.obj is None
                or attribute.image_size is None
            ):
                continue
            width, height = attribute.image_size
            value, meta = self.obj[attribute.name], self.obj[f"{attribute.name}-metadata"]
            for index, box in enumerate(value.get("annotations", [])):
                if (attribute.name, index) in dropped:
                    continue
                left, top = box["left"] / width, box["top"] / height
                out.append(
                    (
                        meta["class-map"][str(box["class_id"])],
                        (left, top, left + box["width"] / width, top + box["height"] / height),
                    )
                )
        return out

    def finish(self) -> Line:
        """Step 11: decide whether the line is valid, invalid or ignored."""
        if (
            self.obj is None
            or self.stopped
            or any(p.is_error and p.where == "line" for p in self.problems)
        ):
            self.outcome = "invalid"
        elif not self.attributes:
            self.outcome = "ignored"
        elif any(a.usable for a in self.attributes):
            self.outcome = "valid"
        elif any(not a.valid for a in self.attributes):
            self.add("ERROR_NO_VALID_LABEL_ATTRIBUTES")
            self.outcome = "invalid"
        else:
            self.add("WARNING_NO_ANNOTATIONS")
            self.outcome = "ignored"
        return self


def _without_service_keys(found: JsonObject) -> JsonObject:
    return {k: v for k, v in found.items() if k not in SERVICE_KEYS}


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


def parse_line(text: str) -> object:
    """A manifest line as JSON, without the keys the service adds (errors, cl-metadata, ...) at
    any level. The keys are dropped while parsing, bottom-up, so however deep a line nests
    nothing recurses here; NaN and Infinity are not JSON and make the line unreadable, as does a
    lone surrogate escape ("\\udc80": no text a dataset can store)."""
    return parse_json(text, _not_json, object_hook=_without_service_keys)


def parse_source_ref(value: object) -> tuple[str, str] | None:
    """(bucket, key) of a well-formed `s3://bucket/key`, else None."""
    if not isinstance(value, str):
        return None
    match = _SOURCE_REF.fullmatch(value)
    if not match or not _BUCKET.fullmatch(match.group(1)):
        return None
    return match.group(1), match.group(2)


def check_line(text: str, number: int, context: str, limits: Limits = Limits()) -> Line:
    """Steps 1-5 and 7-9 of §2.5 for one raw line (without its newline)."""
    line = Line(number)
    if len(text) > limits.max_line_chars:
        return _unreadable(line, context)
    try:
        parsed = parse_line(text)
    except (ValueError, RecursionError):
        return _unreadable(line, context)
    if not isinstance(parsed, dict):
        return _unreadable(line, context)
    obj = line.obj = parsed
    if "source-ref" not in obj:
        line.add("ERROR_MISSING_SOURCE_REF")
        line.dropped = context == IMPORT
        return line
    location = parse_source_ref(obj["source-ref"])
    if location is None:
        line.add("ERROR_INVALID_SOURCE_REF_FORMAT")
        line.dropped = context == IMPORT
        return line
    line.source_ref = obj["source-ref"]
    line.bucket, line.key = location
    _check_attributes(line, obj, context, limits)
    return line


def _unreadable(line: Line, context: str) -> Line:
    line.add("ERROR_INVALID_JSON_LINE")
    line.dropped = context == IMPORT
    return line


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _common_metadata_ok(meta: JsonObject) -> bool:
    return (
        isinstance(meta.get("human-annotated"), str)
        and meta["human-annotated"].lower() in ("yes", "no")
        and _nonempty_str(meta.get("creation-date"))
        and ("job-name" not in meta or isinstance(meta["job-name"], str))
    )


def _check_attributes(line: Line, obj: JsonObject, context: str, limits: Limits) -> None:
    others = [k for k in obj if k != "source-ref"]
    pairs = [k for k in others if not k.endswith("-metadata") and f"{k}-metadata" in obj]
    line.is_labeled = any(_labels_something(obj[k], obj[f"{k}-metadata"]) for k in pairs)
    if not pairs:
        if others:
            line.add("ERROR_NO_LABEL_ATTRIBUTES")
        elif context == TRAINING:
            line.add("WARNING_UNANNOTATED_RECORD")
        return
    for name in pairs:
        _check_pair(line, name, obj[name], obj[f"{name}-metadata"], limits)
        if line.stopped:
            return
    boxes = [a for a in line.attributes if a.kind == "box"]
    if sum(a.annotations for a in boxes) > limits.max_boxes_per_image:
        line.add("ERROR_TOO_MANY_BOUNDING_BOXES")
    for attribute in boxes:
        if attribute.image_size and not (
            limits.image_min_side <= min(attribute.image_size)
            and max(attribute.image_size) <= limits.image_max_side
        ):
            line.add("ERROR_INVALID_IMAGE_DIMENSION")
            break


def _labels_something(value: object, meta: object) -> bool:
    """A pair labels its image unless it is a bounding-box attribute without boxes; a pair of
    an unsupported type counts too (the guide's ERROR_UNSUPPORTED_USE_CASE_TYPE entry reads
    `"is_labeled": true`)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("type"), str):
        return False
    if meta["type"] != OBJECT_DETECTION:
        return True
    return (
        isinstance(value, dict)
        and isinstance(value.get("annotations"), list)
        and bool(value["annotations"])
    )


def _format_error(line: Line, name: str, value: object, meta: object) -> None:
    where: Place = (
        "attribute"
        if isinstance(value, dict)
        else ("metadata" if isinstance(meta, dict) else "line")
    )
    line.add("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", where, name)


def _metadata_error(line: Line, name: str, meta: object) -> None:
    where: Place = "metadata" if isinstance(meta, dict) else "line"
    line.add("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", where, name)


def _check_pair(line: Line, name: str, value: object, meta: object, limits: Limits) -> None:
    if not isinstance(meta, dict) or not isinstance(meta.get("type"), str):
        _metadata_error(line, name, meta)
        return
    if meta["type"] == IMAGE_LEVEL:
        _check_image_level(line, name, value, meta, limits)
    elif meta["type"] == OBJECT_DETECTION:
        _check_boxes(line, name, value, meta, limits)
    else:
        line.add("ERROR_UNSUPPORTED_USE_CASE_TYPE", "metadata", name)
        line.attributes.append(Attribute(name, "other", valid=False))


def _check_image_level(
    line: Line, name: str, value: object, meta: JsonObject, limits: Limits
) -> None:
    if not _is_int(value):
        _format_error(line, name, value, meta)
        return
    confidence = meta.get("confidence")
    if not (
        _nonempty_str(meta.get("class-name"))
        and _is_number(confidence)
        and 0 <= confidence <= 1
        and _common_metadata_ok(meta)
    ):
        _metadata_error(line, name, meta)
        return
    attribute = Attribute(name, "image")
    if len(meta["class-name"]) > limits.max_label_chars:
        line.add("ERROR_INVALID_LABEL_NAME_LENGTH", "metadata", name)
        attribute.valid = False
    else:
        attribute.labels = {meta["class-name"]}
    line.attributes.append(attribute)


def _image_size(value: JsonObject) -> tuple[int, int] | None:
    size = value.get("image_size")
    if isinstance(size, list):
        if len(size) != 1:
            return None
        size = size[0]
    if not isinstance(size, dict):
        return None
    width, height, depth = (size.get(k) for k in ("width", "height", "depth"))
    if not (
        _is_int(width) and _is_int(height) and _is_int(depth) and min(width, height, depth) > 0
    ):
        return None
    return width, height


def _annotation_ok(annotation: object) -> bool:
    return (
        isinstance(annotation, dict)
        and _is_int(annotation.get("class_id"))
        and annotation["class_id"] >= 0
        and all(_is_number(annotation.get(k)) for k in ("top", "left", "width", "height"))
    )


def _check_boxes(line: Line, name: str, value: object, meta: JsonObject, limits: Limits) -> None:
    size = _image_size(value) if isinstance(value, dict) else None
    annotations = value.get("annotations", []) if isinstance(value, dict) else None
    if (
        size is None
        or not isinstance(annotations, list)
        or not all(_annotation_ok(a) for a in annotations)
    ):
        _format_error(line, name, value, meta)
        return
    objects, class_map = meta.get("objects"), meta.get("class-map")
    if not (
        isinstance(objects, list)
        and isinstance(class_map, dict)
        and all(_nonempty_str(v) for v in class_map.values())
        and _common_metadata_ok(meta)
    ):
        _metadata_error(line, name, meta)
        return
    if len(objects) < len(annotations) or not all(
        isinstance(o, dict) and _is_number(o.get("confidence")) for o in objects[: len(annotations)]
    ):
        line.add("ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", "metadata", name)
        return
    if any(str(a["class_id"]) not in class_map for a in annotations):
        line.add("ERROR_MISSING_CLASS_MAP_ID", "metadata", name)
        return
    attribute = Attribute(name, "box", annotations=len(annotations), image_size=size)
    line.attributes.append(attribute)
    if any(len(class_map[str(a["class_id"])]) > limits.max_label_chars for a in annotations):
        line.add("ERROR_INVALID_LABEL_NAME_LENGTH", "metadata", name)
        attribute.valid = False
        return
    if not annotations:
        line.add("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "attribute", name)
        return
    width, height = size
    scale = limits.resize_max_side / max(size) if max(size) > limits.resize_max_side else 1
    for index, box in enumerate(annotations):
        left, top, w, h = box["left"], box["top"], box["width"], box["height"]
        if min(left, top, w, h) < 0 or left + w > width or top + h > height:
            line.add("ERROR_INVALID_BOUNDING_BOX", "annotation", name, index)
        elif w * scale <= 1 or h * scale <= 1:
            line.add("ERROR_BOUNDING_BOX_TOO_SMALL", "annotation", name, index)
        else:
            attribute.labels.add(class_map[str(box["class_id"])])
    if not attribute.labels:
        line.add("ERROR_NO_VALID_ANNOTATIONS", "attribute", name)
        attribute.valid = False


def render(line: Line, error_key: str, warning_key: str | None) -> JsonObject:
    """The line with its problems written in: `error_key` lists, and warnings if asked for."""
    if line.obj is None:
        return {error_key: [p.as_json() for p in line.problems]}
    out: JsonObject = json.loads(json.dumps(line.obj))  # a deep copy that keeps key order
    for problem in line.problems:
        key = error_key if problem.is_error else warning_key
        if key is None:
            continue
        _place(out, problem).setdefault(key, []).append(problem.as_json())
    return out


def _place(out: JsonObject, problem: Problem) -> JsonObject:
    """The object of the line a problem is written into: the line, an attribute, an attribute's
    metadata or one of its annotations."""
    name = problem.attribute
    if problem.where == "line" or name is None:
        return out
    if problem.where == "attribute":
        attribute: JsonObject = out[name]
        return attribute
    if problem.where == "metadata":
        metadata: JsonObject = out[f"{name}-metadata"]
        return metadata
    annotation: JsonObject = out[name]["annotations"][problem.index]
    return annotation
