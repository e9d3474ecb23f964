"""`fakerek manifest …`: the converters of the guide and a validator using the server's rules."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from fakerek.domain import images, taxonomy
from fakerek.manifests import converters, report
from fakerek.manifests.adapters import GROUND_TRUTH, LABELS
from fakerek.manifests.codes import message
from fakerek.manifests.importer import ImportFailed, ImportLimits, Tally, open_manifest, text_lines
from fakerek.manifests.lines import IMPORT, TRAINING, parse_source_ref
from fakerek.s3.objects import ExternalObjects, ObjectError, iter_chunks

FEATURE_PEEK_LINES = 20  # lines read to tell an adapter manifest from a Custom Labels one


def add_parser(commands: Any) -> None:
    manifest = commands.add_parser(
        "manifest",
        help="convert and validate manifests",
        description="Convert data to Custom Labels or adapter manifests, or "
        "check a manifest with the server's rules.",
    )
    tools = manifest.add_subparsers(dest="tool", required=True)

    csv_tool = tools.add_parser(
        "from-csv", help="CSV (image, labels...) to an image-level manifest"
    )
    csv_tool.add_argument("csv_file", help="CSV without header: image, label, label, ...")
    csv_tool.add_argument(
        "--s3-path", default="", help="prefix for column 1, e.g. s3://bucket/folder/"
    )
    csv_tool.add_argument(
        "--output-dir",
        default=None,
        help="where to write <name>.manifest (default: beside the CSV)",
    )
    csv_tool.add_argument(
        "--feature",
        choices=(report.CUSTOM_LABELS, report.CONTENT_MODERATION),
        default=report.CUSTOM_LABELS,
        help="CONTENT_MODERATION: an adapter manifest (labels are moderation categories; an "
        "image without any is safe)",
    )

    gt_tool = tools.add_parser(
        "from-groundtruth",
        help="SageMaker Ground Truth multi-label output.manifest to a Custom Labels manifest",
    )
    gt_tool.add_argument("input", help="the Ground Truth job's output.manifest")
    gt_tool.add_argument(
        "--output", default=None, help="default: custom_labels_<input name> in this folder"
    )

    coco_tool = tools.add_parser(
        "from-coco", help="COCO object-detection JSON to a bounding-box manifest"
    )
    coco_tool.add_argument("coco_file")
    coco_tool.add_argument("--bucket", required=True, help="bucket holding the images")
    coco_tool.add_argument("--image-prefix", default="", help="key prefix of the images")
    coco_tool.add_argument("--job-name", default="coco-conversion")
    coco_tool.add_argument("--label-attribute", default="bounding-box")
    coco_tool.add_argument("--output", default="custom_labels.manifest")
    coco_tool.add_argument(
        "--upload",
        metavar="S3_KEY",
        default=None,
        help="also upload the manifest to s3://<bucket>/<S3_KEY>",
    )
    coco_tool.add_argument("--endpoint-url", default=None, help="S3 endpoint for --upload")

    validate = tools.add_parser(
        "validate",
        help="check a manifest and its images with the server's rules; exit 1 on terminal errors",
    )
    validate.add_argument("manifest", help="a local file or s3://bucket/key")
    validate.add_argument(
        "--context",
        choices=(TRAINING, IMPORT),
        default=TRAINING,
        help="training: what CreateProjectVersion reports (images included); "
        "import: what CreateDataset keeps and drops",
    )
    validate.add_argument(
        "--endpoint-url",
        default=None,
        help="S3 endpoint for the manifest and images (e.g. fakerek's)",
    )
    validate.add_argument(
        "--no-images", action="store_true", help="skip fetching and checking the images"
    )
    validate.add_argument(
        "--feature",
        choices=("auto", report.CUSTOM_LABELS, report.CONTENT_MODERATION),
        default="auto",
        help="the kind of manifest: a Custom Labels one, an adapter (Custom Moderation) one, or "
        "auto: an adapter manifest when its first readable line has "
        "content-moderation-groundtruth",
    )


def run(args: argparse.Namespace) -> int:
    try:
        return {
            "from-csv": _from_csv,
            "from-groundtruth": _from_groundtruth,
            "from-coco": _from_coco,
            "validate": _validate,
        }[args.tool](args)
    except (converters.ConversionError, OSError, ObjectError) as error:
        print(f"fakerek manifest {args.tool}: {error}", file=sys.stderr)
        return 2


def _write(path: str, lines: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(converters.dumps(lines))


def _from_csv(args: argparse.Namespace) -> int:
    base = os.path.splitext(os.path.basename(args.csv_file))[0]
    folder = args.output_dir or os.path.dirname(os.path.abspath(args.csv_file))
    firsts, repeats = converters.csv_duplicates(converters.read_csv(args.csv_file))
    if repeats:
        for suffix, rows in (("-deduplicated.csv", firsts), ("-duplicates.csv", repeats)):
            with open(
                os.path.join(folder, base + suffix), "w", newline="", encoding="utf-8"
            ) as handle:
                csv.writer(handle).writerows(rows)
        print(
            f"{len(repeats)} duplicate image(s): see {base}-duplicates.csv. Fix "
            f"{base}-deduplicated.csv and convert it instead; no manifest was written.",
            file=sys.stderr,
        )
        return 1
    rows = converters.read_csv(args.csv_file, quotechar="|")
    if args.feature == report.CONTENT_MODERATION:
        lines = converters.moderation_from_csv(rows, taxonomy.current(), args.s3_path)
        labels = sum(len(line[GROUND_TRUTH][LABELS]) for line in lines)
    else:
        lines = converters.from_csv(rows, args.s3_path)
        labels = sum(1 for line in lines for key in line if key.endswith("-metadata"))
    target = os.path.join(folder, base + ".manifest")
    _write(target, lines)
    print(f"{target}: {len(lines)} images, {labels} labels")
    return 0


def _from_groundtruth(args: argparse.Namespace) -> int:
    with open(args.input, encoding="utf-8") as handle:
        lines = converters.from_groundtruth(handle)
    target = args.output or f"custom_labels_{os.path.basename(args.input)}"
    _write(target, lines)
    print(f"{target}: {len(lines)} images")
    return 0


def _from_coco(args: argparse.Namespace) -> int:
    with open(args.coco_file, encoding="utf-8") as handle:
        try:
            coco = json.load(handle)
        except ValueError as error:
            raise converters.ConversionError(f"{args.coco_file} is not JSON: {error}") from None
    lines = converters.from_coco(
        coco, args.bucket, args.image_prefix, args.job_name, args.label_attribute
    )
    _write(args.output, lines)
    print(f"{args.output}: {len(lines)} images")
    if args.upload:
        objects = ExternalObjects(
            args.endpoint_url, os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        )
        objects.put(
            args.bucket, args.upload, converters.dumps(lines).encode(), "application/x-ndjson"
        )
        print(f"uploaded to s3://{args.bucket}/{args.upload}")
    else:
        print(
            f"upload the images with: aws s3 sync <local images> "
            f"s3://{args.bucket}/{args.image_prefix}"
        )
    return 0


def _validate(args: argparse.Namespace) -> int:
    limits = ImportLimits()
    tally = Tally()
    objects = None
    if args.manifest.startswith(("s3://", "S3://")) or not args.no_images:
        objects = ExternalObjects(
            args.endpoint_url, os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        )
    fetch = None if args.no_images else (lambda bucket, key: _fetch(objects, bucket, key))

    def progress(count: int) -> None:
        print(f"... {count} lines checked", file=sys.stderr, flush=True)

    try:
        chunks = _manifest_chunks(args.manifest, objects, limits)
        texts = text_lines(chunks, tally)
        head = list(itertools.islice(texts, FEATURE_PEEK_LINES))
        feature = report.feature_of(head) if args.feature == "auto" else args.feature
        texts = itertools.chain(head, texts)
        if feature == report.CONTENT_MODERATION:
            if args.context == IMPORT:
                print(
                    f"{args.manifest}: an adapter (Custom Moderation) manifest: adapters have no "
                    "datasets to import into; leave out --context import",
                    file=sys.stderr,
                )
                return 2
            result = report.build_adapter(texts, tally, limits, fetch, progress)
        else:
            result = report.build(texts, tally, args.context, limits, fetch, progress)
    except ImportFailed as failure:
        print(f"{args.manifest}: {failure.code}: {message(failure.code)}")
        return 1
    for line in result.lines:
        for row in report.describe(line):
            print(row)
    summary = (
        f"{tally.lines} lines: {result.count('valid')} valid, "
        f"{result.count('invalid')} invalid, {result.count('ignored')} ignored"
    )
    if args.context == IMPORT:
        summary += f", {result.dropped} dropped by CreateDataset"
    print(summary)
    for code in result.terminal:
        print(f"terminal: {code}: {message(code)}")
    return 1 if result.terminal else 0


def _manifest_chunks(
    location: str, objects: ExternalObjects | None, limits: ImportLimits
) -> Iterator[bytes]:
    if location.startswith(("s3://", "S3://")):
        parsed = parse_source_ref(location.replace("S3://", "s3://", 1))
        if parsed is None or objects is None:
            raise ImportFailed("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT")
        stream = open_manifest(objects, parsed[0], parsed[1], None, limits)
        return iter_chunks(stream)
    if "." not in os.path.basename(location).rstrip("."):
        raise ImportFailed("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT")
    try:
        if os.path.getsize(location) > limits.max_bytes:
            raise ImportFailed("ERROR_MANIFEST_SIZE_TOO_LARGE")
        handle = open(location, "rb")  # noqa: SIM115 - read lazily by the caller
    except OSError:
        raise ImportFailed("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT") from None
    return iter_chunks(handle)


def _fetch(objects: ExternalObjects | None, bucket: str, key: str) -> bytes | None:
    if objects is None:
        return None
    try:
        return objects.read(bucket, key, limit=images.ImageLimits().max_bytes + 1)
    except ObjectError:
        return None
