"""Adapter (Custom Moderation) manifests: one line's checks, and the validation a training runs.

A line names an image and the moderation categories it shows (moderation.md §2.1):

    {"source-ref": "s3://bucket/1.jpg",
     "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Rude Gestures"}]}}

An empty `ModerationLabels` list marks an image without unsafe content. Names come from the
moderation taxonomy; an adapter learns top-level categories, so a finer name counts as its
top-level category (with a warning). The codes are the Custom Labels ones where one fits
(`codes.py`), and fakerek's own otherwise. Like `training.validate`, this is a pure function of
the lines, with image bytes and bucket facts given as callbacks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fakerek.domain import images
from fakerek.domain.moderation import MAX_TRAINING_IMAGES
from fakerek.domain.taxonomy import Taxonomy
from fakerek.manifests import split
from fakerek.manifests.codes import message
from fakerek.manifests.lines import Limits, parse_line, parse_source_ref

GROUND_TRUTH = "content-moderation-groundtruth"
LABELS = "ModerationLabels"
SUMMARY_VERSION = "1.0"
DEFAULT_LINE_LIMITS = Limits()
Fetch = Callable[[str, str], bytes | None]
# The line code an image earns (None: usable), given where it is and its bytes (None: not
# fetched). A training passes one that also embeds the images it decodes.
Inspect = Callable[[tuple[str, str], bytes | None], str | None]


@dataclass(frozen=True)
class AdapterLimits:
    line: Limits = Limits()
    image: images.ImageLimits = images.MODERATION_LIMITS
    invalid_row_threshold: float = 0.20
    max_training_images: int = MAX_TRAINING_IMAGES


@dataclass(frozen=True)
class Finding:
    """A problem of a line: its code and what its message names."""

    code: str
    details: tuple[tuple[str, str], ...] = ()

    @property
    def is_error(self) -> bool:
        return self.code.startswith("ERROR_")

    @property
    def message(self) -> str:
        return message(self.code, **dict(self.details))


@dataclass
class AdapterLine:
    number: int  # 1-based position in its manifest
    source_ref: str | None = None
    bucket: str | None = None
    key: str | None = None
    ground_truth: Any = None  # the line's content-moderation-groundtruth, as given
    labels: frozenset[str] = frozenset()  # the top-level categories the image shows
    findings: list[Finding] = field(default_factory=list)
    annotated: bool = False

    def add(self, code: str, **details: str) -> None:
        finding = Finding(code, tuple(details.items()))
        if finding not in self.findings:
            self.findings.append(finding)

    @property
    def has_errors(self) -> bool:
        return any(f.is_error for f in self.findings)

    @property
    def outcome(self) -> str:
        """valid, invalid, or ignored (an image without ground truth)."""
        if self.has_errors:
            return "invalid"
        return "valid" if self.annotated else "ignored"

    def output(self) -> dict[str, Any]:
        """The line as a training's output manifest repeats it."""
        return {"source-ref": self.source_ref, GROUND_TRUTH: self.ground_truth}


def check_line(
    text: str, number: int, taxonomy: Taxonomy, limits: Limits = DEFAULT_LINE_LIMITS
) -> AdapterLine:
    """Everything about one line that needs no image: JSON, source-ref, ground truth, names."""
    line = AdapterLine(number)
    parsed: Any = None
    if len(text) <= limits.max_line_chars:
        try:
            parsed = parse_line(text)
        except (ValueError, RecursionError):
            parsed = None
    if not isinstance(parsed, dict):
        line.add("ERROR_INVALID_JSON_LINE")
        return line
    if "source-ref" not in parsed:
        line.add("ERROR_MISSING_SOURCE_REF")
        return line
    location = parse_source_ref(parsed["source-ref"])
    if location is None:
        line.add("ERROR_INVALID_SOURCE_REF_FORMAT")
        return line
    line.source_ref = parsed["source-ref"]
    line.bucket, line.key = location
    if GROUND_TRUTH not in parsed:
        line.add("ERROR_NO_LABEL_ATTRIBUTES" if len(parsed) > 1 else "WARNING_UNANNOTATED_RECORD")
        return line
    line.ground_truth = truth = parsed[GROUND_TRUTH]
    line.annotated = True
    names = truth.get(LABELS) if isinstance(truth, dict) else None
    if not isinstance(names, list) or not all(
        isinstance(item, dict) and isinstance(item.get("Name"), str) and item["Name"]
        for item in names
    ):
        line.add("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", attribute=GROUND_TRUTH)
        return line
    found = set()
    for item in names:
        name = item["Name"]
        if name not in taxonomy:
            line.add("ERROR_INVALID_MODERATION_LABEL", label=name)
            continue
        top = taxonomy.top_level(name)
        if top != name:
            line.add("WARNING_MODERATION_LABEL_NOT_TOP_LEVEL", label=name, top=top)
        found.add(top)
    line.labels = frozenset(found)
    return line


@dataclass
class Side:
    """The training or the testing images, after any split."""

    name: str  # training | testing
    lines: list[AdapterLine] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # terminal codes

    @property
    def usable(self) -> list[AdapterLine]:
        return [line for line in self.lines if line.outcome == "valid"]

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)


@dataclass
class AdapterValidation:
    training: Side
    testing: Side
    auto_split: bool = False

    @property
    def first_error(self) -> str | None:
        ordered = self.training.errors + self.testing.errors
        return ordered[0] if ordered else None

    @property
    def labels(self) -> list[str]:
        """The top-level categories the adapter learns: those its training images show."""
        return sorted(set().union(*(line.labels for line in self.training.usable)))

    def summary(self) -> dict[str, Any]:
        """The manifest summary, in the shape of Rekognition's bulk-analysis summary (version,
        statistics, errors by line) over both datasets, each error naming its dataset."""
        sides = (self.training, self.testing)
        lines = [line for side in sides for line in side.lines]
        out: dict[str, Any] = {
            "version": SUMMARY_VERSION,
            "statistics": {
                "total-json-lines": len(lines),
                "valid-json-lines": sum(1 for line in lines if line.outcome == "valid"),
                "invalid-json-lines": sum(1 for line in lines if line.outcome == "invalid"),
            },
            "errors": [
                {
                    "dataset": side.name,
                    "line-number": line.number,
                    "source-ref": line.source_ref,
                    "code": finding.code,
                    "message": finding.message,
                }
                for side in sides
                for line in side.lines
                for finding in line.findings
            ],
        }
        if self.first_error:
            out["failure"] = {"code": self.first_error, "message": message(self.first_error)}
        return out


def validate(
    train_texts: Sequence[str],
    test_texts: Sequence[str] | None,
    taxonomy: Taxonomy,
    *,
    fetch: Fetch | None,
    denied: Container[str] = frozenset(),
    limits: AdapterLimits = AdapterLimits(),
    inspect: Inspect | None = None,
    across: bool = True,
) -> AdapterValidation:
    """The lines of both datasets checked, images included. `test_texts=None` asks for an
    auto-split of the training manifest (a seeded fifth of its valid lines, moderation.md D4);
    `across=False` validates one manifest alone (`fakerek manifest validate`)."""
    train_lines = _checked(train_texts, taxonomy, limits)
    result = AdapterValidation(Side("training"), Side("testing"), auto_split=test_texts is None)
    if test_texts is None:
        chosen = set(_auto_split([line for line in train_lines if line.outcome == "valid"]))
        if across and not chosen:  # the manifest's own problems first, then the split's
            result.training.lines = train_lines
            _file_checks(result.training, train_lines, fetch, denied, limits, inspect)
            result.training.errors.append("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT")
            return result
        result.training.lines = [line for line in train_lines if line.number not in chosen]
        result.testing.lines = [line for line in train_lines if line.number in chosen]
        manifests = [(result.training, train_lines)]
    else:
        result.training.lines = train_lines
        result.testing.lines = _checked(test_texts, taxonomy, limits)
        manifests = [
            (result.training, result.training.lines),
            (result.testing, result.testing.lines),
        ]
    for side, lines in manifests:
        _file_checks(side, lines, fetch, denied, limits, inspect)
    _content_checks(result, limits, across)
    return result


def _checked(texts: Sequence[str], taxonomy: Taxonomy, limits: AdapterLimits) -> list[AdapterLine]:
    out, seen = [], set()
    for number, text in enumerate(texts, 1):
        line = check_line(text, number, taxonomy, limits.line)
        if line.source_ref is not None:
            if line.source_ref in seen:
                line.add("ERROR_INVALID_JSON_LINE")  # an image listed twice, as Custom Labels
            seen.add(line.source_ref)
        out.append(line)
    return out


def _auto_split(valid: list[AdapterLine]) -> list[int]:
    """Line numbers of the test fifth: Custom Labels' seeded, per-category stratified split,
    or, when no category repeats (it needs one), the same seeded order unstratified."""
    if len(valid) < 2:
        return []
    entries = [
        split.Entry(line.number, True, set(line.labels), line.source_ref or "") for line in valid
    ]
    chosen = split.choose(entries)
    if chosen:
        return chosen
    ordered = sorted(entries, key=lambda entry: (split.rank(entry.identity), entry.position))
    return sorted(entry.position for entry in ordered[: split.test_size(len(entries))])


def _file_checks(
    side: Side,
    lines: list[AdapterLine],
    fetch: Fetch | None,
    denied: Container[str],
    limits: AdapterLimits,
    inspect: Inspect | None,
) -> None:
    """One manifest's buckets, images and share of invalid lines."""
    buckets = {line.bucket for line in lines if line.bucket and line.outcome == "valid"}
    if len(buckets) > 1:
        side.errors.append("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS")
    if any(bucket in denied for bucket in buckets):
        side.errors.append("ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET")
    elif fetch is not None:
        found = _images([line for line in lines if line.outcome == "valid"], fetch, limits, inspect)
        if found and not any(found.values()):
            side.errors.append("ERROR_FAILED_IMAGES_S3_COPY")
    outcomes = Counter(line.outcome for line in lines)
    considered = len(lines) - outcomes["ignored"]
    if considered and outcomes["invalid"] / considered > limits.invalid_row_threshold:
        side.errors.append("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")


def _images(
    lines: list[AdapterLine], fetch: Fetch, limits: AdapterLimits, inspect: Inspect | None
) -> dict[tuple[str, str], bool]:
    """Every image fetched once and checked as it arrives (its bytes dropped after); returns
    whether each location could be fetched."""
    by_location: dict[tuple[str, str], list[AdapterLine]] = {}
    for line in lines:
        by_location.setdefault((line.bucket or "", line.key or ""), []).append(line)

    def check(where: tuple[str, str]) -> tuple[bool, str | None]:
        data = fetch(*where)
        if inspect is not None:
            return data is not None, inspect(where, data)
        return data is not None, images.check(data, False, limits.image)

    with ThreadPoolExecutor(8) as pool:
        checked = dict(zip(by_location, pool.map(check, by_location), strict=True))
    for where, (_, code) in checked.items():
        if code:
            for line in by_location[where]:
                line.add(code)
    return {where: fetched for where, (fetched, _) in checked.items()}


def _content_checks(result: AdapterValidation, limits: AdapterLimits, across: bool) -> None:
    training, testing = result.training, result.testing
    if not training.usable:
        training.errors.append("ERROR_INSUFFICIENT_TRAINING_IMAGES")
    elif not result.labels:
        training.errors.append("ERROR_MANIFEST_TOO_FEW_LABELS")
    if len(training.usable) > limits.max_training_images:
        training.errors.append("ERROR_TOO_MANY_TRAINING_IMAGES")
    if across and not testing.usable:
        testing.errors.append("ERROR_INSUFFICIENT_TESTING_IMAGES")
