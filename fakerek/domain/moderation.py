"""How DetectModerationLabels composes its answer from the base model's and an adapter's.

Both answers are maps of category name to confidence (percent). The base model's comes from the
test double's rules (any level, expanded to the parent chains); an adapter's gives one confidence
per top-level category it was trained on. The guide says only that an adapter improves the base
model's answer on the customer's images; fakerek's rule (README, fidelity notes): for each
top-level category the adapter was trained on, the adapter's confidence replaces the base
model's, and the base model's finer labels under it are kept no more confident than the adapter
is of their top-level category (a chain stays consistent: no label above its ancestor). Every
other category comes from the base model as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from fakerek.domain.lifecycle import VersionStatus
from fakerek.domain.taxonomy import Taxonomy

DEFAULT_MIN_CONFIDENCE = 50.0  # MinConfidence when the request gives none
PREDICTION_THRESHOLD = 5.0  # the predictions written in a training's output manifests
MAX_TRAINING_IMAGES = 10_000  # an adapter's training images (the guide's limit)


def merged(
    taxonomy: Taxonomy, base: Mapping[str, float], adapter: Mapping[str, float]
) -> dict[str, float]:
    """The adapter's answer over the base model's (both expanded to their chains)."""
    out: dict[str, float] = {}
    for name, confidence in base.items():
        top = taxonomy.top_level(name)
        out[name] = min(confidence, adapter[top]) if top in adapter else confidence
    out.update(adapter)
    return out


def adapter_status(
    status: VersionStatus, deprecated_ms: int | None, expires_ms: int | None, now_ms: int
) -> VersionStatus:
    """An adapter's status: a trained adapter whose base model was superseded is DEPRECATED
    until its grace period ends, then EXPIRED (the guide's managing-adapters statuses)."""
    if status != "TRAINING_COMPLETED" or deprecated_ms is None or now_ms < deprecated_ms:
        return status
    return "EXPIRED" if expires_ms is not None and now_ms >= expires_ms else "DEPRECATED"


def adapter_message(status: str, base_model: str, expires_ms: int | None) -> str | None:
    """The StatusMessage of a usable adapter (fakerek's wording; None: the status's usual one)."""
    if status == "TRAINING_COMPLETED":
        return "The adapter is ready to use."
    if status == "DEPRECATED":
        until = (
            dt.datetime.fromtimestamp(expires_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            if expires_ms is not None
            else "the end of its grace period"
        )
        return (
            f"The adapter was trained on base model {base_model}, which a newer version "
            f"replaced; it can be used until {until}."
        )
    if status == "EXPIRED":
        return (
            f"The adapter was trained on base model {base_model} and has expired; the newest "
            "base model answers in its place."
        )
    return None
