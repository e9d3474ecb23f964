"""`fakerek manifest validate`: the server's own validation of one manifest, as a report.

TRAINING context (the default) runs what CreateProjectVersion runs on a training manifest,
images included; IMPORT context runs CreateDataset's import and says which lines it drops. An
adapter (Custom Moderation) manifest gets the checks an adapter's training runs (adapters have
no datasets, so no import).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from fakerek.api.json_text import parse_json
from fakerek.domain import taxonomy
from fakerek.manifests import adapters, importer, training
from fakerek.manifests.adapters import AdapterLine
from fakerek.manifests.importer import ImportFailed, ImportLimits, Tally
from fakerek.manifests.lines import IMPORT, TRAINING, Line

PROGRESS_EVERY = 50_000
CUSTOM_LABELS, CONTENT_MODERATION = "CUSTOM_LABELS", "CONTENT_MODERATION"


@dataclass
class Report:
    context: str
    lines: list[Line] | list[AdapterLine] = field(default_factory=list)
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


def feature_of(texts: list[str]) -> str:
    """CONTENT_MODERATION when the manifest's first readable line carries an adapter's ground
    truth, else CUSTOM_LABELS."""
    for text in texts:
        try:
            parsed = parse_json(text, lambda constant: None)
        except (ValueError, RecursionError):
            continue
        if isinstance(parsed, dict):
            return CONTENT_MODERATION if adapters.GROUND_TRUTH in parsed else CUSTOM_LABELS
    return CUSTOM_LABELS


def build_adapter(
    texts: Iterable[str],
    tally: Tally,
    limits: ImportLimits,
    fetch: adapters.Fetch | None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Validate an adapter manifest as an adapter's training would, on its own."""
    lines = list(_counted(texts, progress))
    tally.lines = len(lines)
    if not tally.seen_text:
        raise ImportFailed("ERROR_EMPTY_MANIFEST")
    result = adapters.validate(
        lines,
        [],
        taxonomy.current(),
        fetch=fetch,
        across=False,
        limits=adapters.AdapterLimits(
            line=limits.line, invalid_row_threshold=limits.invalid_row_threshold
        ),
    )
    return Report(TRAINING, lines=result.training.lines, terminal=result.training.errors)


def describe_adapter_line(line: AdapterLine) -> list[str]:
    """One printable row per finding of an adapter manifest's line, with a hint after a name
    that is almost a category's."""
    rows = []
    for finding in line.findings:
        row = f"line {line.number}: {finding.code}: {finding.message}"
        named = dict(finding.details).get("label")
        hint = (
            taxonomy.current().closest(named) if named and named not in taxonomy.current() else None
        )
        rows.append(row + (f" (did you mean {hint!r}?)" if hint else ""))
    return rows


def describe(line: Line | AdapterLine) -> list[str]:
    """One printable row per problem of a line: `line N: CODE: message (where)`."""
    if isinstance(line, AdapterLine):
        return describe_adapter_line(line)
    rows = []
    for problem in line.problems:
        where = ""
        if problem.where == "annotation":
            where = f" (attribute {problem.attribute}, annotation {(problem.index or 0) + 1})"
        elif problem.where in ("attribute", "metadata"):
            where = f" (attribute {problem.attribute})"
        rows.append(f"line {line.number}: {problem.code}: {problem.as_json()['message']}{where}")
    return rows
