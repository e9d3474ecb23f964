"""Loading a running version's model: in the background when it starts, or at its first
detection after fakerek restarted. A model that cannot be loaded fails its start."""

from __future__ import annotations

import logging

from fakerek.domain import lifecycle
from fakerek.domain.capacity import Capacity
from fakerek.domain.clock import Clock
from fakerek.jobs import outcomes
from fakerek.ml import serving
from fakerek.store import versions
from fakerek.store.db import Store, Tx
from fakerek.store.records import ProjectVersion

log = logging.getLogger("fakerek.ml.serving")
FAILED_TO_START = lifecycle.VERSION_MESSAGES["FAILED"]


def load(
    store: Store, clock: Clock, models: serving.Models, capacity: Capacity, version: ProjectVersion
) -> serving.Loaded | None:
    """The version's model, loaded once; a model that cannot be loaded fails its start (the
    version becomes FAILED, as a start that failed on AWS) and None is returned."""
    try:
        return models.get(version.id, serving.model_folder(store.data_dir, version.id))
    except Exception:
        log.exception("the model of %s cannot be loaded", version.arn)

    def fail(tx: Tx) -> None:
        versions.fail_phase(tx, version.id, clock.now_ms(), FAILED_TO_START)

    outcomes.record(store, f"the start of {version.arn}", fail, fail)
    capacity.stop(version.arn)
    return None
