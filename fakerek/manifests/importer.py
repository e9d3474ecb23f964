"""The IMPORT pipeline of CreateDataset and UpdateDatasetEntries (manifests.md §2.3-2.5, §4.4).

Manifests are streamed: bytes are decoded and split as they arrive, each line is validated and
handed on, so a 250,000-line manifest never sits in memory whole. Terminal file errors raise
`ImportFailed` with their code, in the documented order.
"""

from __future__ import annotations

import codecs
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from fakerek.manifests.lines import IMPORT, Limits, Line, check_line
from fakerek.s3.objects import ObjectError, Objects, iter_chunks

BOM = "\ufeff"


class ImportFailed(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int = 1024**3
    max_rows: int = 250_000
    max_labels: int = 250
    invalid_row_threshold: float = 0.20
    line: Limits = Limits()


@dataclass
class Tally:
    lines: int = 0
    dropped: int = 0
    seen_text: bool = False  # any non-whitespace character: the manifest is not empty
    source_refs: set[str] = field(default_factory=set)

    def check(self, limits: ImportLimits, rows: int | None = None) -> None:
        """F2, F4 and F7 once every line has been seen (`rows`: entries after a merge).

        F2 precedes line processing in the documented order; an empty manifest yields no line,
        so checking it here, afterwards, gives the same outcome.
        """
        if not self.seen_text:
            raise ImportFailed("ERROR_EMPTY_MANIFEST")
        if (self.lines if rows is None else rows) > limits.max_rows:
            raise ImportFailed("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM")
        if self.lines and self.dropped / self.lines > limits.invalid_row_threshold:
            raise ImportFailed("ERROR_TOO_MANY_RECORDS_IN_ERROR")


def check_one_bucket(buckets: Collection[str]) -> None:
    """All the images of a dataset sit in one bucket (manifests.md §1.1): an import or an update
    that breaks this fails at once, as AWS's DescribeDataset example shows (UPDATE_FAILED)."""
    if len(buckets) > 1:
        raise ImportFailed("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS")


def open_manifest(
    objects: Objects, bucket: str, key: str, version: str | None, limits: ImportLimits
) -> IO[bytes]:
    """The manifest object, after the file checks that need no content (F5, F1, F3)."""
    try:
        size = objects.size(bucket, key, version)
        if "." not in key.rsplit("/", 1)[-1].rstrip("."):
            raise ImportFailed("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT")
        if size > limits.max_bytes:
            raise ImportFailed("ERROR_MANIFEST_SIZE_TOO_LARGE")
        return objects.open(bucket, key, version)
    except ObjectError as error:
        if error.kind == "denied":
            raise ImportFailed("ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET") from None
        raise ImportFailed("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT") from None


def text_lines(chunks: Iterable[bytes], tally: Tally) -> Iterator[str]:
    """Decoded lines (no newline, no trailing CR); F1 for bytes that are not UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pending, first = "", True
    try:
        for chunk in chunks:
            text = decoder.decode(chunk)
            if first and text:
                text, first = text.removeprefix(BOM), False
            pending += text
            *complete, pending = pending.split("\n")
            yield from (_clean(line, tally) for line in complete)
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFailed("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT") from None
    if pending:
        yield _clean(pending, tally)


def _clean(line: str, tally: Tally) -> str:
    if "\x00" in line:
        raise ImportFailed("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT")
    if not tally.seen_text and line.strip():
        tally.seen_text = True
    return line.removesuffix("\r")


def validate(lines: Iterable[str], tally: Tally, limits: ImportLimits) -> Iterator[Line]:
    """The lines that are kept, validated; dropped lines are only counted."""
    for text in lines:
        tally.lines += 1
        if tally.lines > limits.max_rows:
            continue  # F4 will fail the import; keep reading so that F1 still wins
        line = check_line(text, tally.lines, IMPORT, limits.line)
        if line.dropped or line.source_ref is None or line.source_ref in tally.source_refs:
            tally.dropped += 1
            continue
        tally.source_refs.add(line.source_ref)
        yield line.finish()


def manifest_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    try:
        yield from iter_chunks(stream)
    finally:
        stream.close()
