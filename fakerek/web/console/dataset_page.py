"""Datasets: creating, splitting and deleting them, the gallery of a dataset's entries with the
filters ListDatasetEntries has, labeling (saved through UpdateDatasetEntries), uploading images,
and the image renditions the gallery shows."""

from __future__ import annotations

import base64
import datetime as dt
import json
import posixpath

from flask import Response, flash, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from fakerek.api.errors import InvalidParameter, ResourceNotReady
from fakerek.api.sigv4 import Scope
from fakerek.api.wire import JsonObject
from fakerek.domain import arns, images
from fakerek.manifests import converters
from fakerek.manifests.lines import parse_source_ref
from fakerek.s3.objects import ObjectError
from fakerek.web import current
from fakerek.web.console import api, entries, thumbnails
from fakerek.web.console.web import back_to, blueprint, done
from fakerek.web.responses import NotJson, read_json

PAGE = 50
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_UPLOAD_FILES = 50
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MANIFEST_FOLDER = "fakerek-console/manifests"


def _s3_uri(text: str, what: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an `s3://bucket/key` the user typed."""
    text = text.strip()
    bucket, _, key = text[5:].partition("/")
    if not text.lower().startswith("s3://") or not bucket:
        raise InvalidParameter(f"Give the {what} as s3://bucket/key.")
    return bucket, key


def _manifest_source(bucket: str, key: str) -> JsonObject:
    return {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}


@blueprint.post("/datasets")
def create_dataset() -> ResponseReturnValue:
    project = request.form["project"]
    scope = api.scope_of(project)
    kind = request.form.get("type", "TRAIN")
    source = request.form.get("source", "empty")
    params: JsonObject = {"ProjectArn": project, "DatasetType": kind}
    if source == "manifest":
        bucket, key = _s3_uri(request.form.get("manifest", ""), "manifest file")
        params["DatasetSource"] = _manifest_source(bucket, key)
    elif source == "folder":
        bucket, key = _folder_manifest(
            project, kind, request.form.get("folder", ""), "by_folder" in request.form
        )
        params["DatasetSource"] = _manifest_source(bucket, key)
    elif source == "copy":
        params["DatasetSource"] = {"DatasetArn": request.form.get("copy", "")}
    arn = api.call(scope, "CreateDataset", params)["DatasetArn"]
    text = "training" if kind == "TRAIN" else "test"
    return done(f"The {text} dataset is being created.", url_for("console.dataset", arn=arn))


def _folder_manifest(project: str, kind: str, folder: str, by_folder: bool) -> tuple[str, str]:
    """A manifest of the images under an S3 folder of fakerek's own S3, written to the same
    bucket under `fakerek-console/manifests/`; returns its bucket and key.

    With `by_folder`, an image is labelled with the first folder below the chosen one (the AWS
    console's "automatically assign image-level labels by folder"); images directly in it stay
    unlabelled.
    """
    services = current()
    bucket, prefix = _s3_uri(folder, "S3 folder")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    settings = services.config.snapshot()
    try:
        keys = api.objects(api.scope_of(project)).keys(
            bucket, prefix, settings.manifest_max_rows + 1
        )
    except ObjectError as error:
        raise InvalidParameter(f"s3://{bucket}/{prefix} cannot be listed: {error}") from None
    rows = []
    for key in keys:
        if not key.lower().endswith(IMAGE_SUFFIXES):
            continue
        folders = key[len(prefix) :].split("/")[:-1]
        label = [folders[0]] if by_folder and folders else []
        rows.append([f"s3://{bucket}/{key}", *label])
    if not rows:
        raise InvalidParameter(f"No PNG or JPEG image under s3://{bucket}/{prefix}.")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    key = f"{MANIFEST_FOLDER}/{arns.of(project).project}-{kind.lower()}-{stamp}.manifest"
    try:
        text = converters.dumps(converters.from_csv(rows))
    except converters.ConversionError as error:  # a folder name that cannot be a label
        raise InvalidParameter(str(error)) from None
    try:
        api.objects(api.scope_of(project)).put(bucket, key, text.encode(), "application/json")
    except ObjectError as error:
        raise InvalidParameter(
            f"The manifest cannot be written to s3://{bucket}/{key}: {error}"
        ) from None
    return bucket, key


@blueprint.post("/datasets/delete")
def delete_dataset() -> ResponseReturnValue:
    arn = request.form["arn"]
    api.call(api.scope_of(arn), "DeleteDataset", {"DatasetArn": arn})
    project = api.project_of(arn)["ProjectArn"]
    return done("The dataset is being deleted.", url_for("console.project", arn=project))


@blueprint.post("/datasets/distribute")
def distribute() -> ResponseReturnValue:
    """Distribute the training dataset: creates the (empty) test dataset first if need be."""
    project = request.form["project"]
    scope = api.scope_of(project)
    found = {d["DatasetType"]: d["DatasetArn"] for d in api.project_of(project)["Datasets"]}
    if "TRAIN" not in found:
        raise InvalidParameter("The project has no training dataset to distribute.")
    if "TEST" not in found:
        found["TEST"] = api.call(
            scope, "CreateDataset", {"ProjectArn": project, "DatasetType": "TEST"}
        )["DatasetArn"]
    target = url_for("console.project", arn=project)
    try:
        api.call(
            scope,
            "DistributeDatasetEntries",
            {"Datasets": [{"Arn": found["TRAIN"]}, {"Arn": found["TEST"]}]},
        )
    except ResourceNotReady:
        return done("The test dataset is being created: distribute once it is complete.", target)
    return done("The training dataset is being distributed to the test dataset.", target)


# -- the dataset page ---------------------------------------------------------------------------


def _labels(scope: Scope, arn: str) -> list[JsonObject]:
    params = {"DatasetArn": arn, "MaxResults": 100}
    return [
        label
        for page in api.pages(scope, "ListDatasetLabels", params)
        for label in page["DatasetLabelDescriptions"]
    ]


def _filters() -> JsonObject:
    """ListDatasetEntries' filters from the query string."""
    params: JsonObject = {}
    if request.args.get("label"):
        params["ContainsLabels"] = [request.args["label"]]
    if request.args.get("labeled") in ("true", "false"):
        params["Labeled"] = request.args["labeled"] == "true"
    if request.args.get("errors"):
        params["HasErrors"] = True
    if request.args.get("contains", "").strip():
        params["SourceRefContains"] = request.args["contains"]
    return params


LISTABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED"}


FILTERS = ("label", "labeled", "errors", "contains")


@blueprint.get("/dataset")
def dataset() -> ResponseReturnValue:
    arn = request.args.get("arn", "")
    scope = api.scope_of(arn)
    project = api.project_of(arn)
    description = api.call(scope, "DescribeDataset", {"DatasetArn": arn})["DatasetDescription"]
    tokens = request.args.getlist("t")
    shown: list[entries.Entry] = []
    labels: list[JsonObject] = []
    next_token = None
    if description["Status"] in LISTABLE:
        labels = _labels(scope, arn)
        params = {"DatasetArn": arn, "MaxResults": PAGE, **_filters()}
        if tokens:
            params["NextToken"] = tokens[-1]
        page = api.call(scope, "ListDatasetEntries", params)
        shown = [entries.parse(text) for text in page["DatasetEntries"]]
        next_token = page.get("NextToken")
    return render_template(
        "console/dataset.html",
        scope=scope,
        arn=arn,
        kind=arns.of(arn).name.upper(),
        project=project,
        project_name=arns.of(project["ProjectArn"]).project,
        description=description,
        listable=description["Status"] in LISTABLE,
        labels=labels,
        entries=shown,
        filters={k: request.args[k] for k in FILTERS if request.args.get(k)},
        pager=_pager(arn, tokens, next_token),
        page_number=len(tokens) + 1,
        upload=_upload_default(shown),
        data={
            "dataset": arn,
            "save": url_for("console.save_labels"),
            "labels": [label["LabelName"] for label in labels],
            "entries": [
                {
                    **entry.as_json(),
                    "key": entry.key,
                    "large": url_for(
                        "console.image",
                        bucket=entry.bucket,
                        key=entry.key,
                        size="large",
                        account=scope.account,
                    ),
                }
                for entry in shown
            ],
        },
    )


def _pager(arn: str, tokens: list[str], next_token: str | None) -> dict[str, str | None]:
    """Links to the first, previous and next pages: the query keeps the tokens walked so far."""
    kept: JsonObject = {k: request.args[k] for k in FILTERS if request.args.get(k)}

    def link(walked: list[str]) -> str:
        return url_for("console.dataset", arn=arn, t=walked, **kept)

    return {
        "first": link([]) if len(tokens) > 1 else None,
        "previous": link(tokens[:-1]) if tokens else None,
        "next": link([*tokens, next_token]) if next_token else None,
    }


def _upload_default(shown: list[entries.Entry]) -> str:
    """Where uploaded images most likely go: next to the dataset's first image."""
    for entry in shown:
        if entry.bucket:
            folder = posixpath.dirname(entry.key)
            return f"s3://{entry.bucket}/{folder + '/' if folder else ''}"
    return ""


def _size(scope: Scope, source_ref: str) -> tuple[int, int] | None:
    bucket, key = parse_source_ref(source_ref) or ("", "")
    try:
        data = api.objects(scope).read(bucket, key)
    except ObjectError:
        return None
    return images.dimensions(data)


def _update(scope: Scope, arn: str, lines: list[JsonObject]) -> None:
    blob = converters.dumps(lines).encode()
    api.call(
        scope,
        "UpdateDatasetEntries",
        {"DatasetArn": arn, "Changes": {"GroundTruth": base64.b64encode(blob).decode()}},
    )


@blueprint.post("/dataset/labels")
def save_labels() -> ResponseReturnValue:
    """The labeling page's changes: one replaced entry per changed image (a body as large as a
    Rekognition request may be, `max_body_bytes`)."""
    limit = current().config.snapshot().max_body_bytes
    try:
        payload = read_json(request.stream, request.content_length, limit)
    except NotJson as error:
        raise entries.EditError(str(error)) from None
    arn = payload.get("dataset", "") if isinstance(payload, dict) else ""
    scope = api.scope_of(arn)
    lines = [
        entries.edited_line(ref, labels, boxes, _size(scope, ref) if boxes else None)
        for ref, labels, boxes in entries.read_edits(payload)
    ]
    _update(scope, arn, lines)
    flash(f"Changes to {len(lines)} image(s) saved.", "success")
    return jsonify({"saved": len(lines)})


def _has_entry(scope: Scope, arn: str, source_ref: str) -> bool:
    params = {"DatasetArn": arn, "SourceRefContains": source_ref, "MaxResults": 100}
    return any(
        json.loads(text).get("source-ref") == source_ref
        for page in api.pages(scope, "ListDatasetEntries", params)
        for text in page["DatasetEntries"]
    )


@blueprint.post("/dataset/upload")
def upload() -> ResponseReturnValue:
    """Put the chosen files in S3 and add the new ones to the dataset, unlabelled."""
    arn = request.form["dataset"]
    scope = api.scope_of(arn)
    target = back_to(url_for("console.dataset", arn=arn))
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        raise InvalidParameter(f"Upload at most {MAX_UPLOAD_BYTES // 2**20} MB at a time.")
    bucket, prefix = _s3_uri(request.form.get("folder", ""), "S3 folder")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    files = [f for f in request.files.getlist("images") if f.filename]
    if not files or len(files) > MAX_UPLOAD_FILES:
        raise InvalidParameter(f"Choose from 1 to {MAX_UPLOAD_FILES} PNG or JPEG images.")
    objects = api.objects(scope)
    new = []
    for file in files:
        data = file.read()
        kind = images.image_format(data)
        if kind is None:
            raise InvalidParameter(f"{file.filename} is neither a PNG nor a JPEG image.")
        key = prefix + posixpath.basename((file.filename or "").replace("\\", "/"))
        try:
            objects.put(bucket, key, data, f"image/{kind.lower()}")
        except ObjectError as error:
            raise InvalidParameter(f"s3://{bucket}/{key} cannot be written: {error}") from None
        source_ref = f"s3://{bucket}/{key}"
        if not _has_entry(scope, arn, source_ref):
            new.append({"source-ref": source_ref})
    if new:
        _update(scope, arn, new)
    return done(f"{len(files)} image(s) uploaded, {len(new)} added to the dataset.", target)


@blueprint.get("/image")
def image() -> ResponseReturnValue:
    """A JPEG rendition of an S3 image: `size` thumb (gallery) or large (box editor)."""
    size = request.args.get("size", "thumb")
    if size not in thumbnails.SIZES:
        return Response("size is thumb or large", 400, mimetype="text/plain")
    services = current()
    default = api.default_scope()
    scope = api.scope_named(request.args.get("account"), default.region) or default
    try:
        data = thumbnails.rendition(
            api.objects(scope),
            services.store.data_dir,
            request.args.get("bucket", ""),
            request.args.get("key", ""),
            size,
        )
    except thumbnails.Unavailable as error:
        return Response(str(error), 404, mimetype="text/plain")
    response = Response(data, mimetype="image/jpeg")
    response.add_etag()
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)
