"""DetectModerationLabels: the base moderation model's answer for one image, improved by an
adapter when the request names one (moderation.md §4).

The base model is a test double: it answers what a rule (`/_fakerek/rules` with
`"operation": "DetectModerationLabels"`) sets for the image, and otherwise finds nothing. An
adapter's trained head answers for the top-level categories it learnt, merged over the base
model's answer (`domain.moderation.merged`). Every label comes with its parent chain; the
answer keeps those at or above MinConfidence (50 by default).
"""

from __future__ import annotations

from typing import Any

from fakerek.api.errors import InvalidParameter, ResourceNotReady
from fakerek.domain import images, moderation, taxonomy
from fakerek.ml import serving
from fakerek.operations import adapters
from fakerek.operations.context import Ctx
from fakerek.operations.detect import read_image, refused, require_one_source
from fakerek.operations.versions import require
from fakerek.store import adapters as adapter_rows

MAX_BYTES = 5 * 1024 * 1024  # image bytes in the request (the model's ImageBlob maximum)
LIMITS = images.MODERATION_LIMITS
USABLE = ("TRAINING_COMPLETED", "DEPRECATED")  # an EXPIRED adapter is ignored, not refused


def detect_moderation_labels(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    image = params["Image"]
    require_one_source(image)
    minimum = params.get("MinConfidence", moderation.DEFAULT_MIN_CONFIDENCE)
    adapter = _adapter(ctx, params["ProjectVersion"]) if "ProjectVersion" in params else None
    data, s3_key = read_image(ctx, image, MAX_BYTES, LIMITS)
    try:
        images.checked_header(data, LIMITS)
    except images.ImageProblem as problem:
        raise refused(problem) from None
    found, content_types = ctx.services.rules.moderation(data, s3_key)
    tax = taxonomy.current()
    if adapter is None:
        with ctx.store.read() as conn:
            version = adapters.base_model(conn)
        _decoded(data)  # the base model reads every image whole, as the adapter does
        answer, used = found, None
    else:
        row, info = adapter
        predicted = _predict(ctx, row, data)
        answer = moderation.merged(tax, found, {p.name: p.confidence for p in predicted})
        version, used = info.base_model, row.arn
    out: dict[str, Any] = {
        "ModerationLabels": [d.as_label() for d in tax.detected(answer, minimum)],
        "ModerationModelVersion": version,
        "ContentTypes": content_types,
    }
    if used is not None:
        out["ProjectVersion"] = used
    return out


def _adapter(ctx: Ctx, arn: str) -> tuple[Any, adapter_rows.Adapter] | None:
    """The adapter to answer with: None when it EXPIRED (the base model answers alone). In
    instant timing the registry has the call wait for the adapter's training first."""
    with ctx.store.read() as conn:
        row = require(conn, ctx, arn)
        info = adapter_rows.of_versions(conn, [row.id]).get(row.id)
    if row.feature != adapters.CONTENT_MODERATION or info is None:
        raise InvalidParameter(
            f"The project version {arn} is not an adapter: DetectModerationLabels takes the "
            "ARN of a Custom Moderation adapter."
        )
    status = adapters.status(row, info, ctx.now_ms)[0]
    if status == "EXPIRED":
        return None
    if status not in USABLE:
        raise ResourceNotReady.in_state("adapter", arn, status)
    return row, info


def _predict(ctx: Ctx, row: Any, data: bytes) -> list[serving.Label]:
    """The adapter's confidence for each top-level category it learnt."""
    services = ctx.services
    try:
        loaded = services.models.get(row.id, serving.model_folder(services.store.data_dir, row.id))
        return services.models.predict(loaded, data, ctx.settings)
    except images.ImageProblem as problem:  # a truncated or corrupt image
        raise refused(problem) from None
    except (OSError, ValueError):  # model files damaged (model_files.ModelFileError) or gone
        raise ResourceNotReady(f"The adapter {row['arn']} cannot be loaded.") from None


def _decoded(data: bytes) -> None:
    try:
        images.decode(data, 1, LIMITS)
    except images.ImageProblem as problem:
        raise refused(problem) from None
