"""CopyProjectVersion in the background: the model's files and its training results, re-written
under the copy's own OutputConfig; the copy ends COPYING_COMPLETED or COPYING_FAILED."""

from __future__ import annotations

import logging
import shutil

from fakerek.api.wire import JsonObject
from fakerek.domain import lifecycle
from fakerek.domain.clock import Clock
from fakerek.domain.lifecycle import VersionOutcome
from fakerek.jobs import outcomes
from fakerek.jobs.training import mark_failed
from fakerek.manifests.artefacts import ARTEFACT_NAMES, OutputNotWritable, Outputs, recorded
from fakerek.ml import serving
from fakerek.s3.objects import ObjectError, Objects
from fakerek.store import versions
from fakerek.store.db import Store, StoreClosed, Tx

log = logging.getLogger("fakerek.copy")


def run(
    store: Store,
    clock: Clock,
    sources: Objects,
    objects: Objects,
    source_id: int,
    copy_id: int,
) -> None:
    """Copy the model's files and its training results (read from `sources`, as the source's
    account; written to `objects`, as the caller's); the copy ends COMPLETED or FAILED."""
    what = f"the copy into version {copy_id}"
    results: JsonObject = {}
    outcome: VersionOutcome
    try:
        with store.read() as conn:
            source, copy = versions.by_id(conn, source_id), versions.by_id(conn, copy_id)
        if copy is None:
            return
        what = f"the copy into {copy.arn}"
        if source is None:
            raise OSError("the source model is gone")
        outputs = Outputs(objects, copy.request, copy.project_name, copy.name)
        old = recorded(source.results)
        for key in ARTEFACT_NAMES:
            if key in old:
                results[key] = outputs.put(outputs.key(key), _read(sources, old[key]))
        if "EvaluationResult" in old:
            summary = old["EvaluationResult"]["Summary"]
            results["EvaluationResult"] = {
                "F1Score": old["EvaluationResult"]["F1Score"],
                "Summary": outputs.put(outputs.summary_key, _read(sources, summary)),
            }
        folder = serving.model_folder(store.data_dir, copy_id)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(serving.model_folder(store.data_dir, source_id), folder)
        outcome, message = "COMPLETED", None
    except StoreClosed:
        log.warning("%s was cut by the server's stop: the next start marks it failed", what)
        return
    except (OutputNotWritable, ObjectError, OSError) as failure:
        log.warning("%s failed: %s", what, failure)
        outcome = "FAILED"
        message = (
            "The model could not be copied: its training results could not be written "
            "to the output bucket."
            if isinstance(failure, OutputNotWritable)
            else "The model could not be copied."
        )
    except Exception:
        log.exception("%s failed", what)
        outcome, message = "FAILED", lifecycle.SERVICE_ISSUE
    if outcome == "FAILED":
        serving.remove_model(store.data_dir, copy_id)
        results = {}

    def write(tx: Tx) -> None:
        versions.finish(tx, copy_id, outcome, clock.now_ms(), message, results, None)

    outcomes.record(store, what, write, mark_failed(store, clock, copy_id))


def _read(objects: Objects, location: JsonObject) -> str:
    s3 = location["S3Object"]
    return objects.read(s3["Bucket"], s3["Name"]).decode("utf-8")
