"""The 80/20 split of DistributeDatasetEntries and of training's auto-split (manifests.md §4.7,
amended by issue 12: the guide calls the test images "a representative sampling").

A seeded, per-label stratified random fifth. Every entry gets a pseudo-random rank from a hash of
its identity (its source-ref), so the same dataset always splits the same way, whatever the order
of its lines. Entries are grouped by their rarest label (unlabelled and invalid entries form a
group of their own) and each group gives its share of the test side, in rank order. Every label
carried by two or more entries gets a test entry when possible, and no label loses its last
training entry.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

SEED = b"fakerek split 1"


class Entry(NamedTuple):
    position: int
    is_labeled: bool
    labels: set[str]
    identity: str  # the source-ref (or anything stable that tells the entry apart)


def test_size(total: int, fraction: float = 0.2) -> int:
    return min(max(round(fraction * total), 1), total - 1)


def rank(identity: str) -> bytes:
    """The entry's place in the seeded random order."""
    return hashlib.blake2b(identity.encode("utf-8"), digest_size=8, key=SEED).digest()


def quotas(sizes: dict[str, int], wanted: int) -> dict[str, int]:
    """`wanted` shared out in proportion to `sizes`, by largest remainder (ties: by name)."""
    total = sum(sizes.values())
    exact = {group: wanted * size / total for group, size in sizes.items()}
    shares = {group: int(value) for group, value in exact.items()}
    by_remainder = sorted(exact, key=lambda group: (shares[group] - exact[group], group))
    for group in by_remainder[: wanted - sum(shares.values())]:
        shares[group] += 1
    return shares


def choose(entries: Sequence[Entry], fraction: float = 0.2) -> list[int]:
    """Positions of the entries to move to the test side, or [] when no split is possible."""
    if sum(1 for entry in entries if entry.is_labeled) < 2:
        return []
    counts = Counter(label for entry in entries for label in entry.labels)
    if not any(count >= 2 for count in counts.values()):
        return []
    ordered = sorted(entries, key=lambda entry: (rank(entry.identity), entry.position))
    picker = _Picker(counts, test_size(len(entries), fraction))
    carriers: dict[str, list[Entry]] = {}
    groups: dict[str, list[Entry]] = {}
    for entry in ordered:
        for label in entry.labels:
            carriers.setdefault(label, []).append(entry)
        groups.setdefault(_group(entry, counts), []).append(entry)
    for label in sorted(counts, key=lambda label: (counts[label], label)):  # rarest first
        if counts[label] >= 2 and label not in picker.represented:
            picker.fill(carriers[label], 1)
    shares = quotas({group: len(members) for group, members in groups.items()}, picker.wanted)
    for group in sorted(groups):
        members = groups[group]
        picker.fill(members, shares[group] - sum(picker.chosen(e) for e in members))
    picker.fill(ordered, picker.wanted)  # when the proviso held a group back
    return sorted(picker.selected)


def _group(entry: Entry, counts: Counter[str]) -> str:
    """The stratum of an entry: its rarest label, or '' for entries without labels."""
    if not entry.labels:
        return ""
    return "label:" + min(entry.labels, key=lambda label: (counts[label], label))


class _Picker:
    """The test side being chosen, and how many training entries each label still has."""

    def __init__(self, counts: Counter[str], wanted: int):
        self.remaining = Counter(counts)
        self.wanted = wanted
        self.selected: set[int] = set()
        self.represented: set[str] = set()

    def chosen(self, entry: Entry) -> bool:
        return entry.position in self.selected

    def fill(self, candidates: Sequence[Entry], count: int) -> None:
        """Move up to `count` candidates, in order, each only if every one of its labels keeps
        a training entry (a candidate refused once stays refused: counts only go down)."""
        for entry in candidates:
            if count <= 0 or len(self.selected) >= self.wanted:
                return
            if self.chosen(entry) or any(self.remaining[label] < 2 for label in entry.labels):
                continue
            self.selected.add(entry.position)
            self.represented.update(entry.labels)
            self.remaining.subtract(entry.labels)
            count -= 1
