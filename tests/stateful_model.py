"""The reference model of tests/test_stateful.py: what must exist after a sequence of calls, and
what a training of some datasets must end as, written from the spec (api.md, manifests.md
§2.7-2.8 and §4.7), not from fakerek's code.

Everything here is plain data and pure functions, so a failing sequence can be replayed and read.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from manifests import BUCKET, box_line, image_line

LABELS = ("circle", "square", "triangle", "Echo Dot")
IMAGE_SIDE = 128  # every image of the pool is 128 x 128
IMAGE_LEVEL, OBJECT_LOCATION = "IMAGE_LEVEL_LABELS", "OBJECT_LOCALIZATION"
MIN_LABELS = {IMAGE_LEVEL: 2, OBJECT_LOCATION: 1}  # api.md §12; NOT_DETERMINED uses detection's


def image_key(index: int) -> str:
    return f"img{index}.{'png' if index % 3 == 2 else 'jpg'}"


@dataclass(frozen=True)
class Entry:
    """One manifest line: an image of the pool with image-level labels and/or boxes (pixels:
    left, top, width, height), or neither (an unlabelled image)."""

    image: int
    classes: tuple[str, ...] = ()
    boxes: tuple[tuple[str, tuple[int, int, int, int]], ...] = ()

    @property
    def source_ref(self) -> str:
        return f"s3://{BUCKET}/{image_key(self.image)}"

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(self.classes) | self.box_labels

    @property
    def box_labels(self) -> frozenset[str]:
        return frozenset(label for label, _ in self.boxes)

    def line(self) -> dict[str, Any]:
        """The JSON line, as the manifests helpers write it."""
        name = image_key(self.image)
        out: dict[str, Any] = {"source-ref": self.source_ref}
        if self.boxes:
            out.update(box_line(name, list(self.boxes), size=(IMAGE_SIDE, IMAGE_SIDE)))
        if self.classes:
            out.update(image_line(name, *self.classes))
        return out

    def text(self) -> str:
        return json.dumps(self.line())


def manifest_text(entries: list[Entry]) -> str:
    return "".join(entry.text() + "\n" for entry in entries)


# -- datasets ------------------------------------------------------------------------------------


def dataset_stats(entries: list[Entry]) -> dict[str, int]:
    return {
        "LabeledEntries": sum(1 for e in entries if e.labels),
        "TotalEntries": len(entries),
        "TotalLabels": len(frozenset().union(*(e.labels for e in entries))),
        "ErrorEntries": 0,  # the machine writes valid lines only
    }


def label_stats(entries: list[Entry]) -> dict[str, tuple[int, int]]:
    """label -> (EntryCount, BoundingBoxCount: entries with the label on a box)."""
    out: dict[str, tuple[int, int]] = {}
    for label in sorted(frozenset().union(*(e.labels for e in entries))):
        out[label] = (
            sum(1 for e in entries if label in e.labels),
            sum(1 for e in entries if label in e.box_labels),
        )
    return out


def merged(entries: list[Entry], changes: list[Entry]) -> list[Entry]:
    """UpdateDatasetEntries: a line replaces the entry with its source-ref in place, or is
    appended (api.md §5.3, manifests.md §4.4)."""
    out = list(entries)
    where = {e.source_ref: i for i, e in enumerate(out)}
    for change in changes:
        if change.source_ref in where:
            out[where[change.source_ref]] = change
        else:
            where[change.source_ref] = len(out)
            out.append(change)
    return out


def test_size(total: int) -> int:
    """manifests.md §4.7: n = round(0.2 N), clamped to [1, N - 1]."""
    return min(max(round(0.2 * total), 1), total - 1)


def split_impossible(entries: list[Entry]) -> bool:
    """manifests.md §4.7's failure rule (distribute: F9; auto-split: C6): fewer than two
    labelled entries, no label on two entries, or no entry that can move without taking a
    label's last training entry."""
    counts = Counter(label for e in entries for label in e.labels)
    if sum(1 for e in entries if e.labels) < 2 or not any(c >= 2 for c in counts.values()):
        return True
    return not any(all(counts[label] >= 2 for label in e.labels) for e in entries)


def split_problems(before: list[Entry], train: list[Entry], test: list[Entry]) -> list[str]:
    """What a split (distribute or auto-split) did wrong, by manifests.md §4.7's promises: the
    entries are only moved, the test side is non-empty and at most n, and no label loses its
    last training entry. The choice itself is the service's (a seeded random fifth)."""
    problems = []
    if sorted(map(repr, train + test)) != sorted(map(repr, before)):
        problems.append("the entries were not just moved")
    if not 1 <= len(test) <= test_size(len(before)):
        problems.append(f"{len(test)} test entries out of {len(before)}")
    lost = frozenset().union(*(e.labels for e in before)) - frozenset().union(
        *(e.labels for e in train)
    )
    if lost:
        problems.append(f"labels {sorted(lost)} lost their training entries")
    return problems


# -- training ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trained:
    """A training's end: the failure code (None: TRAINING_COMPLETED), the model it makes."""

    code: str | None
    use_case: str = ""
    labels: frozenset[str] = frozenset()  # what the model can answer
    test_only_labels: frozenset[str] = frozenset()  # usable test labels training lacks


def _kinds(entries: list[Entry]) -> tuple[int, int]:
    return sum(1 for e in entries if e.classes), sum(1 for e in entries if e.boxes)


def use_case(train: list[Entry], test: list[Entry]) -> str:
    """manifests.md §2.8 step 7."""
    rc, rd = _kinds(train)
    tc, td = _kinds(test)
    if rd == 0 and rc > 0 and td > 0:
        return OBJECT_LOCATION  # brand detection
    if rc + rd:
        return OBJECT_LOCATION if rd >= rc else IMAGE_LEVEL
    if tc + td:
        return OBJECT_LOCATION if td >= tc else IMAGE_LEVEL
    return "NOT_DETERMINED"


def usable_labels(entries: list[Entry], case: str, training: bool) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for e in entries:
        if case == IMAGE_LEVEL and e.classes:
            out |= frozenset(e.classes)
        elif case == OBJECT_LOCATION and (e.boxes or (training and e.classes)):
            out |= e.box_labels or frozenset(e.classes)
    return out


def trained(train: list[Entry], test: list[Entry] | None) -> Trained:
    """How a training of these project datasets ends (test None: no TEST dataset, which asks
    for an auto-split; then call again with the split the service made)."""
    if not train or (test is not None and not test):
        return Trained("ERROR_EMPTY_MANIFEST")  # F2: a project dataset with no entries
    if test is None:
        if split_impossible(train):
            return Trained("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT")
        raise ValueError("an auto-split: give the split the service made")
    case = use_case(train, test)
    minimum = MIN_LABELS.get(case, MIN_LABELS[OBJECT_LOCATION])
    sides = {"training": train, "testing": test}
    labels = {n: frozenset().union(*(e.labels for e in side)) for n, side in sides.items()}
    usable = {n: usable_labels(side, case, n == "training") for n, side in sides.items()}
    errors = []
    for name in sides:
        if len(labels[name]) < minimum:
            errors.append("ERROR_MANIFEST_TOO_FEW_LABELS")
        elif len(usable[name]) < minimum:
            errors.append("ERROR_MANIFEST_TOO_FEW_USABLE_LABELS")
    if labels["training"]:
        if len(labels["testing"] & labels["training"]) / len(labels["training"]) < 0.5:
            errors.append("ERROR_INSUFFICIENT_LABEL_OVERLAP")
        elif (
            usable["training"]
            and len(usable["testing"] & usable["training"]) / len(usable["training"]) < 0.5
        ):
            errors.append("ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP")
    return Trained(
        errors[0] if errors else None,
        case,
        usable["training"],
        usable["testing"] - usable["training"],
    )


# -- what must exist -----------------------------------------------------------------------------


@dataclass
class Policy:
    revision: str
    document: str
    denies: bool  # a Deny of CopyProjectVersion for every principal, on every version


@dataclass
class Dataset:
    arn: str
    kind: str  # TRAIN | TEST
    entries: list[Entry] = field(default_factory=list)
    status: str = "CREATE_COMPLETE"
    code: str = "SUCCESS"  # StatusMessageCode
    message: str = "The dataset was successfully created."
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def failed_create(self) -> bool:
        return self.status == "CREATE_FAILED"


@dataclass
class Version:
    name: str
    arn: str
    status: str
    message: str  # the StatusMessage, or its prefix for a failure with a code
    model: Trained | None = None  # None: no model (failed)
    source: str | None = None  # a copy's SourceProjectVersionArn
    tags: dict[str, str] = field(default_factory=dict)
    units: tuple[int, int | None] | None = None  # the last start's Min/MaxInferenceUnits
    unsettled: bool = True  # its training or copy may still run (a restart may interrupt it)
    auto_split: bool = False  # trained without a TEST dataset
    snapshot: list[Entry] = field(default_factory=list)  # the TRAIN entries it was trained on
    # DetectCustomLabels' answers by image, shared with its copies: the same model and bytes
    # answer the same, before and after a restart (api.md §5.6 DetectCustomLabels)
    answers: dict[int, list[Any]] = field(default_factory=dict)


@dataclass
class Project:
    name: str
    arn: str
    tags: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    versions: dict[str, Version] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)

    @property
    def denies_copies(self) -> bool:
        return any(p.denies for p in self.policies.values())


STATUS_MESSAGES = {
    "TRAINING_COMPLETED": "The model is ready to run.",
    "RUNNING": "The model is running.",
    "STOPPED": "The model has stopped running.",
    "COPYING_COMPLETED": "The model has been copied and is ready to run.",
}
SERVICE_ISSUE = "Amazon Rekognition experienced a service issue."
DATASET_MESSAGES = {
    "empty": "The dataset was successfully created.",
    "manifest": "The dataset was successfully created from the manifest file.",
    "updated": "The dataset was successfully updated.",
    "no manifest": "The manifest file extension or contents are invalid.",
    "no split": "The manifest file doesn't have enough labeled images to distribute the dataset.",
}
STARTABLE = {"TRAINING_COMPLETED", "STOPPED", "COPYING_COMPLETED", "FAILED"}
DELETABLE = {
    "TRAINING_COMPLETED",
    "TRAINING_FAILED",
    "COPYING_COMPLETED",
    "COPYING_FAILED",
    "STOPPED",
    "FAILED",
}
COPYABLE = {"TRAINING_COMPLETED", "RUNNING", "FAILED", "STOPPED", "COPYING_COMPLETED"}
