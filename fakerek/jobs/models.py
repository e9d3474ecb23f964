"""Loading a running version's model: in the background when it starts, or at its first
detection after fakerek restarted. A model that cannot be loaded fails its start."""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from fakerek import lifecycle, serving
from fakerek.store import versions

if TYPE_CHECKING:
    from fakerek.services import Services

log = logging.getLogger("fakerek.serving")
FAILED_TO_START = lifecycle.VERSION_MESSAGES["FAILED"]


def load(services: Services, row: sqlite3.Row) -> Any:
    """The version's model, loaded once; a model that cannot be loaded fails its start (the
    version becomes FAILED, as a start that failed on AWS) and None is returned."""
    try:
        return services.models.get(
            row["id"], serving.model_folder(services.store.data_dir, row["id"])
        )
    except Exception:
        log.exception("the model of %s cannot be loaded", row["arn"])
    with services.store.write() as tx:
        versions.fail_phase(tx, row["id"], lifecycle.now_ms(), FAILED_TO_START)
    services.capacity.stop(row["arn"])
    return None
