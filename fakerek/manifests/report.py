"""`fakerek manifest validate`: the server's manifest rules applied to one manifest, as a report.

TRAINING context (the default) is what CreateProjectVersion will say of the manifest, images
included; IMPORT context is what CreateDataset will do with it (which lines it drops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fakerek.manifests import images
from fakerek.manifests.importer import ImportFailed, ImportLimits, Tally
from fakerek.manifests.lines import IMPORT, TRAINING, Line, check_line

Fetch = Callable[[str, str], bytes | None]  # (bucket, key) -> bytes, or None when unreadable
PROGRESS_EVERY = 50_000
FETCH_BATCH = 256
FETCH_THREADS = 8


@dataclass
class Report:
    context: str
    lines: list[Line] = field(default_factory=list)
    terminal: list[str] = field(default_factory=list)  # codes that fail the whole manifest
    dropped: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)


def build(texts: Iterable[str], tally: Tally, context: str, limits: ImportLimits,
          fetch: Fetch | None, progress: Callable[[int], None] | None = None) -> Report:
    """Validate every line, then the manifest as a whole. File errors raise ImportFailed."""
    report = Report(context)
    seen: set[str] = set()
    fetched: dict[tuple[str, str], bytes | None] = {}
    pending: list[Line] = []
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        for text in texts:
            tally.lines += 1
            if progress and tally.lines % PROGRESS_EVERY == 0:
                progress(tally.lines)
            line = check_line(text, tally.lines, context, limits.line)
            duplicate = line.source_ref is not None and line.source_ref in seen
            if context == IMPORT:
                if line.dropped or duplicate:
                    report.dropped += 1
                    tally.dropped += 1
                    continue
            elif duplicate:
                line.add("ERROR_INVALID_JSON_LINE")
            if line.source_ref:
                seen.add(line.source_ref)
            pending.append(line)
            if len(pending) >= FETCH_BATCH:
                _finish(pending, report, context, fetch, fetched, pool)
        _finish(pending, report, context, fetch, fetched, pool)
    try:
        tally.check(limits)
    except ImportFailed as failure:
        report.terminal.append(failure.code)
        return report
    if context == TRAINING:
        report.terminal += _content_errors(report, fetched, fetch is not None, limits)
    elif len(set().union(*(line.labels for line in report.lines))) > limits.max_labels:
        report.terminal.append("ERROR_MANIFEST_TOO_MANY_LABELS")
    return report


def _finish(lines: list[Line], report: Report, context: str, fetch: Fetch | None,
            fetched: dict[tuple[str, str], bytes | None], pool: ThreadPoolExecutor) -> None:
    """Step 10 (images, fetched in parallel) and step 11 for a batch of lines."""
    checked = [line for line in lines
               if context == TRAINING and fetch and line.bucket and not line.stopped]
    wanted = list({(line.bucket, line.key or "") for line in checked} - fetched.keys())
    fetched.update(zip(wanted, pool.map(lambda where: fetch(*where), wanted), strict=True))
    for line in checked:
        code = images.check(fetched[(line.bucket, line.key or "")],
                            any(a.kind == "box" for a in line.attributes))
        if code:
            line.add(code)
    report.lines.extend(line.finish() for line in lines)
    lines.clear()


def _content_errors(report: Report, fetched: dict, checked_images: bool,
                    limits: ImportLimits) -> list[str]:
    """The terminal content errors that one manifest can show on its own (§2.7)."""
    out = []
    well_formed = [line for line in report.lines if line.bucket]
    if len({line.bucket for line in well_formed}) > 1:
        out.append("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS")
    if checked_images and well_formed and all(v is None for v in fetched.values()):
        out.append("ERROR_FAILED_IMAGES_S3_COPY")
    else:
        considered = len(report.lines) - report.count("ignored")
        if considered and report.count("invalid") / considered > limits.invalid_row_threshold:
            out.append("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")
    labels = set().union(*(line.labels for line in report.lines if line.outcome == "valid"))
    if len(labels) > limits.max_labels:
        out.append("ERROR_MANIFEST_TOO_MANY_LABELS")
    return out


def describe(line: Line) -> list[str]:
    """One printable row per problem of a line: `line N: CODE: message (where)`."""
    rows = []
    for problem in line.problems:
        where = ""
        if problem.where == "annotation":
            where = f" (attribute {problem.attribute}, annotation {problem.index + 1})"
        elif problem.where in ("attribute", "metadata"):
            where = f" (attribute {problem.attribute})"
        rows.append(f"line {line.number}: {problem.code}: {problem.as_json()['message']}{where}")
    return rows
