"""The moderation label taxonomy: the categories DetectModerationLabels answers, in three levels.

The data is `moderation_taxonomy.json` beside this module, written from the "Label Categories"
table of AWS's developer guide (moderation-api.html; base model 7.0): every category with its
parent ("" for a top-level one) and its level. It is checked when it is loaded (one parent per
category, levels that follow the parents, no cycle), so a damaged file fails loudly instead of
answering wrong chains. Adapter manifests are validated against it, detections are expanded into
their parent chains with it, and MinConfidence applies to every label of a chain.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

DATA = os.path.join(os.path.dirname(__file__), "moderation_taxonomy.json")
LEVELS = (1, 2, 3)


class TaxonomyError(ValueError):
    """The taxonomy file is not a taxonomy; the message says what is wrong."""


@dataclass(frozen=True)
class Category:
    name: str
    parent: str  # "" for a top-level (L1) category
    level: int  # 1, 2 or 3: DetectModerationLabels' TaxonomyLevel


class Detected(NamedTuple):
    """One label of an answer: a category and the confidence (percent) it was found with."""

    category: Category
    confidence: float

    def as_label(self) -> dict[str, Any]:
        """The wire ModerationLabel."""
        return {
            "Confidence": self.confidence,
            "Name": self.category.name,
            "ParentName": self.category.parent,
            "TaxonomyLevel": self.category.level,
        }


class Taxonomy:
    def __init__(self, version: str, categories: Iterable[Category]):
        self.version = version
        self._by_name = {c.name: c for c in categories}

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def category(self, name: str) -> Category:
        """The category named `name` (KeyError for a name outside the taxonomy)."""
        return self._by_name[name]

    def names(self, level: int | None = None) -> list[str]:
        """Every category name (of one level), in the table's order."""
        return [c.name for c in self._by_name.values() if level is None or c.level == level]

    def chain(self, name: str) -> list[Category]:
        """The category and its ancestors, from `name` up to its top-level category."""
        out = [self._by_name[name]]
        while out[-1].parent:
            out.append(self._by_name[out[-1].parent])
        return out

    def top_level(self, name: str) -> str:
        """The top-level (L1) category `name` belongs to (itself for an L1 category)."""
        return self.chain(name)[-1].name

    def closest(self, name: str) -> str | None:
        """The category name most like `name` (for a hint after a typo), or None."""
        found = difflib.get_close_matches(name, self._by_name, n=1, cutoff=0.75)
        return found[0] if found else None

    def expand(self, confidences: Mapping[str, float]) -> dict[str, float]:
        """Every category found and each of its ancestors: an ancestor is found at least as
        surely as its most confident descendant (the guide's sample answers an L3 label with
        its L2 and L1 parents at the same confidence)."""
        out: dict[str, float] = {}
        for name, confidence in confidences.items():
            for category in self.chain(name):
                out[category.name] = max(out.get(category.name, 0.0), confidence)
        return out

    def detected(self, confidences: Mapping[str, float], minimum: float) -> list[Detected]:
        """The labels at or above `minimum` of an expanded answer, most confident first and,
        at equal confidence, the most specific first (AWS's sample order: L3, L2, L1)."""
        found = [
            Detected(self._by_name[name], confidence)
            for name, confidence in confidences.items()
            if confidence >= minimum
        ]
        found.sort(key=lambda d: (-d.confidence, -d.category.level, d.category.name))
        return found


def parse(document: Any) -> Taxonomy:
    """A taxonomy from its JSON document, every rule checked (TaxonomyError)."""
    if not isinstance(document, dict) or not isinstance(document.get("labels"), list):
        raise TaxonomyError('a taxonomy is {"version": "...", "labels": [...]}')
    version = document.get("version")
    if not isinstance(version, str) or not version:
        raise TaxonomyError("version must be a non-empty string")
    categories: dict[str, Category] = {}
    for index, row in enumerate(document["labels"]):
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("name"), str)
            or not row["name"]
            or not isinstance(row.get("parent"), str)
            or row.get("level") not in LEVELS
        ):
            raise TaxonomyError(f"labels[{index}] must be {{name, parent, level 1-3}}")
        if row["name"] in categories:
            raise TaxonomyError(f"{row['name']!r} is listed twice")
        categories[row["name"]] = Category(row["name"], row["parent"], row["level"])
    for category in categories.values():
        parent = categories.get(category.parent)
        expected = 1 if not category.parent else (parent.level + 1 if parent else None)
        if expected is None:
            raise TaxonomyError(f"{category.name!r} has an unknown parent {category.parent!r}")
        if category.level != expected:
            raise TaxonomyError(
                f"{category.name!r} is level {category.level}; its parent makes it {expected}"
            )
    return Taxonomy(version, categories.values())


def read(path: str) -> Taxonomy:
    with open(path, encoding="utf-8") as handle:
        try:
            return parse(json.load(handle))
        except ValueError as error:
            raise TaxonomyError(f"{path}: {error}") from None


@functools.cache
def current() -> Taxonomy:
    """The taxonomy fakerek ships (read once per process)."""
    return read(DATA)
