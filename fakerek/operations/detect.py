"""DetectCustomLabels: a running model's labels for one image (training-and-inference.md §4)."""

from __future__ import annotations

from fakerek.api.errors import (
    ImageTooLarge,
    InvalidImageFormat,
    InvalidParameter,
    InvalidS3Object,
    ProvisionedThroughputExceeded,
    ResourceNotReady,
)
from fakerek.api.wire import JsonObject
from fakerek.domain import images
from fakerek.jobs.models import FAILED_TO_START
from fakerek.jobs.models import load as load_model
from fakerek.ml import serving
from fakerek.operations.context import Ctx
from fakerek.operations.projects import require_custom_labels
from fakerek.operations.versions import require
from fakerek.s3.objects import ObjectError

MAX_BYTES = 4 * 1024 * 1024
LIMITS = images.LIMITS
INVALID_FORMAT = "Request has invalid image format"


def require_one_source(image: JsonObject) -> None:
    """An Image is its Bytes or an S3Object, not both nor neither."""
    if ("Bytes" in image) == ("S3Object" in image):
        raise InvalidParameter(
            "Request has invalid parameters: give Image.Bytes or Image.S3Object."
        )


def read_image(
    ctx: Ctx, image: JsonObject, max_bytes: int = MAX_BYTES, limits: images.ImageLimits = LIMITS
) -> tuple[bytes, str | None]:
    """The image's bytes and, for an S3 image, its `bucket/key` (`max_bytes`: for bytes sent
    in the request, `limits.max_bytes` for an S3 object)."""
    if "Bytes" in image:
        if len(image["Bytes"]) > max_bytes:
            raise ImageTooLarge("Image size is too large.")
        return image["Bytes"], None
    s3 = image["S3Object"]
    if not s3.get("Bucket") or not s3.get("Name"):
        raise InvalidParameter(
            "Request has invalid parameters: S3Object needs a Bucket and a Name."
        )
    unreadable = InvalidS3Object(
        "Unable to get object metadata from S3. Check object key, region and/or access permissions."
    )
    try:
        if ctx.objects.size(s3["Bucket"], s3["Name"], s3.get("Version")) > limits.max_bytes:
            raise ImageTooLarge("Image size is too large.")
        data = ctx.objects.read(s3["Bucket"], s3["Name"], s3.get("Version"))
    except ObjectError:
        raise unreadable from None
    return data, f"{s3['Bucket']}/{s3['Name']}"


def refused(problem: images.ImageProblem) -> Exception:
    """The service's error for an image it cannot use."""
    if problem.problem == "resolution":
        return ImageTooLarge("Image resolution is too large.")
    if problem.problem == "dimensions":
        return InvalidParameter("Request has Invalid Parameters")
    return InvalidImageFormat(INVALID_FORMAT)


def _as_label(label: serving.Label) -> JsonObject:
    out: JsonObject = {"Name": label.name, "Confidence": label.confidence}
    if label.box is not None:
        x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in label.box)
        out["Geometry"] = {
            "BoundingBox": {"Width": x2 - x1, "Height": y2 - y1, "Left": x1, "Top": y1}
        }
    return out


def detect_custom_labels(ctx: Ctx, params: JsonObject) -> JsonObject:
    image = params["Image"]
    require_one_source(image)
    with ctx.store.read() as conn:
        version = require(conn, ctx, params["ProjectVersionArn"])
    require_custom_labels(version)
    if version.status(ctx.now_ms) != "RUNNING":
        raise ResourceNotReady(f"ProjectVersion {version.arn} is not ready")
    ctx.services.capacity.ensure(version.arn, version.min_units or 1, version.max_units)
    if not ctx.services.capacity.admit(version.arn, ctx.settings):
        raise ProvisionedThroughputExceeded("Provisioned Rate exceeded")
    data, s3_key = read_image(ctx, image)
    try:
        images.checked_header(data, LIMITS)  # before any decode: the pixels come later, once
    except images.ImageProblem as problem:
        raise refused(problem) from None
    minimum = params.get("MinConfidence")
    ruled = ctx.services.rules.find(data, s3_key)
    if ruled is not None:
        labels = [label for label in ruled if minimum is None or label["Confidence"] >= minimum]
    else:
        services = ctx.services
        model = load_model(
            services.store, services.clock, services.models, services.capacity, version
        )
        if model is None:
            raise ResourceNotReady(f"ProjectVersion {version.arn} is not ready: {FAILED_TO_START}")
        try:
            found = ctx.services.models.predict(model, data, ctx.settings)
        except images.ImageProblem as problem:  # a truncated or corrupt image
            raise refused(problem) from None
        labels = [
            _as_label(label)
            for label in found
            if label.confidence >= (label.threshold if minimum is None else minimum)
        ]
    labels.sort(key=lambda label: -label["Confidence"])
    if "MaxResults" in params:
        labels = labels[: params["MaxResults"]]
    return {"CustomLabels": labels}
