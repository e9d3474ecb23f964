"""The 80/20 split of DistributeDatasetEntries and of training's auto-split (manifests.md §4.7).

Deterministic and stratified: every label carried by two or more entries gets a test entry
when possible, and no label loses its last training entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

Entry = tuple[int, bool, set[str]]  # (position, is_labeled, labels)


def test_size(total: int, fraction: float = 0.2) -> int:
    return min(max(round(fraction * total), 1), total - 1)


def choose(entries: Sequence[Entry], fraction: float = 0.2) -> list[int]:
    """Positions of the entries to move to the test side, or [] when no split is possible."""
    if sum(1 for _, labeled, _ in entries if labeled) < 2:
        return []
    remaining = Counter(label for _, _, labels in entries for label in labels)
    if not any(count >= 2 for count in remaining.values()):
        return []
    wanted = test_size(len(entries), fraction)
    selected: set[int] = set()
    represented: set[str] = set()

    def keeps_training_images(labels: set[str]) -> bool:
        return all(remaining[label] >= 2 for label in labels)

    def select(position: int, labels: set[str]) -> None:
        selected.add(position)
        represented.update(labels)
        remaining.subtract(labels)

    for label in sorted(remaining):
        if len(selected) >= wanted:
            break
        if remaining[label] < 2 or label in represented:
            continue
        for position, _, labels in reversed(entries):
            if position not in selected and label in labels and keeps_training_images(labels):
                select(position, labels)
                break
    for position, _, labels in reversed(entries):
        if len(selected) >= wanted:
            break
        if position not in selected and keeps_training_images(labels):
            select(position, labels)
    return sorted(selected)
