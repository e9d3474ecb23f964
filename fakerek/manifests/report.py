"""`fakerek manifest validate`: the server's own validation of one manifest, as a report.

TRAINING context (the default) runs what CreateProjectVersion runs on a training manifest,
images included; IMPORT context runs CreateDataset's import and says which lines it drops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from fakerek.manifests import importer, training
from fakerek.manifests.importer import ImportFailed, ImportLimits, Tally
from fakerek.manifests.lines import IMPORT, Line

PROGRESS_EVERY = 50_000


@dataclass
class Report:
    context: str
    lines: list[Line] = field(default_factory=list)
    terminal: list[str] = field(default_factory=list)  # codes that fail the whole manifest
    dropped: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)


def _counted(texts: Iterable[str], progress: Callable[[int], None] | None) -> Iterator[str]:
    for number, text in enumerate(texts, 1):
        if progress and number % PROGRESS_EVERY == 0:
            progress(number)
        yield text


def build(
    texts: Iterable[str],
    tally: Tally,
    context: str,
    limits: ImportLimits,
    fetch: training.Fetch | None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Validate a manifest's lines as the server would. File errors raise ImportFailed."""
    texts = _counted(texts, progress)
    if context == IMPORT:
        report = Report(context, lines=list(importer.validate(texts, tally, limits)))
        report.dropped = tally.dropped
        try:
            tally.check(limits)
        except ImportFailed as failure:
            report.terminal.append(failure.code)
            return report
        if len(set().union(*(line.labels for line in report.lines))) > limits.max_labels:
            report.terminal.append("ERROR_MANIFEST_TOO_MANY_LABELS")
        return report
    lines = list(texts)
    tally.lines = len(lines)
    if not tally.seen_text:
        raise ImportFailed("ERROR_EMPTY_MANIFEST")
    result = training.validate(
        lines,
        [],
        fetch=fetch,
        across=False,
        limits=training.TrainingLimits(max_labels=limits.max_labels, line=limits.line),
    )
    return Report(context, lines=result.training.lines, terminal=result.training.errors)


def describe(line: Line) -> list[str]:
    """One printable row per problem of a line: `line N: CODE: message (where)`."""
    rows = []
    for problem in line.problems:
        where = ""
        if problem.where == "annotation":
            where = f" (attribute {problem.attribute}, annotation {(problem.index or 0) + 1})"
        elif problem.where in ("attribute", "metadata"):
            where = f" (attribute {problem.attribute})"
        rows.append(f"line {line.number}: {problem.code}: {problem.as_json()['message']}{where}")
    return rows
