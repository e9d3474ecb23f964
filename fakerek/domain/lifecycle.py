"""Status transitions and their timing.

A transition that AWS runs asynchronously is stored as timestamps: when it started and when it
ends (`start + delay`), read on the server's one clock (`domain.clock`). Status is computed from
those on every read, so it needs no background thread, survives restarts and follows a test's
frozen or advanced clock. With `instant` timing the delay is zero and the next read already
sees the final state; the call that starts the transition still answers the intermediate status.
"""

from __future__ import annotations

import sqlite3

from fakerek.config import Settings

# What a failure without an error code says (a service error, as AWS words it).
SERVICE_ISSUE = "Amazon Rekognition experienced a service issue."


def ends_at(settings: Settings, transition: str, start_ms: int) -> int:
    """When a transition of kind `transition` (a `delays` key) that starts now will be over."""
    return start_ms + round(settings.delay(transition) * 1000)


def training_end_ms(finished_ms: int, ready_ms: int | None) -> int:
    """When a training ended as clients see it: not before its status left TRAINING_IN_PROGRESS
    (realistic timing keeps that status until `ready_ms`, after the work itself finished)."""
    return max(finished_ms, ready_ms or 0)


def project_status(row: sqlite3.Row) -> str:
    return "DELETING" if row["deleting_ms"] is not None else "CREATED"


DATASET_MESSAGES = {
    "CREATE_IN_PROGRESS": "The dataset is being created.",
    "CREATE_COMPLETE": "The dataset was successfully created.",  # empty, or a copy
    "UPDATE_IN_PROGRESS": "The dataset is being updated.",
    "UPDATE_COMPLETE": "The dataset was successfully updated.",
    "DELETE_IN_PROGRESS": "The dataset is being deleted.",
}


# AWS's DescribeProjects example: CREATE_COMPLETE after an import from a manifest.
CREATED_FROM_MANIFEST = "The dataset was successfully created from the manifest file."


def dataset_done(row: sqlite3.Row, now_ms: int) -> bool:
    """The running create/update/distribute has finished and its delay has passed."""
    return row["outcome"] is not None and now_ms >= row["ready_ms"]


def dataset_status(row: sqlite3.Row, now_ms: int) -> tuple[str, str, str]:
    """(Status, StatusMessage, StatusMessageCode) of a dataset row at `now_ms`."""
    if row["deleting_ms"] is not None:
        status = "DELETE_IN_PROGRESS"
    elif not dataset_done(row, now_ms):
        status = f"{row['phase']}_IN_PROGRESS"
    else:
        status = f"{row['phase']}_{row['outcome']}"
        if row["outcome"] == "FAILED":
            return status, row["message"], row["message_code"]
        # a phase that ended well may have stored its own message (an import's)
        return status, row["message"] or DATASET_MESSAGES[status], "SUCCESS"
    return status, DATASET_MESSAGES[status], "SUCCESS"


def dataset_last_update_ms(row: sqlite3.Row, now_ms: int) -> int:
    if row["deleting_ms"] is None and dataset_done(row, now_ms):
        return max(row["finished_ms"], row["ready_ms"])
    return row["previous_update_ms"]


# A model's phases: the status while the phase runs, and the status each outcome leads to.
VERSION_PHASES = {
    "TRAINING": ("TRAINING_IN_PROGRESS", "TRAINING_COMPLETED", "TRAINING_FAILED"),
    "STARTING": ("STARTING", "RUNNING", "FAILED"),
    "STOPPING": ("STOPPING", "STOPPED", "FAILED"),
    "COPYING": ("COPYING_IN_PROGRESS", "COPYING_COMPLETED", "COPYING_FAILED"),
}
VERSION_MESSAGES = {
    "TRAINING_IN_PROGRESS": "The model is being trained.",
    "TRAINING_COMPLETED": "The model is ready to run.",
    "STARTING": "The model is being started.",
    "RUNNING": "The model is running.",
    "FAILED": "The model failed to start.",
    "STOPPING": "The model is being stopped.",
    "STOPPED": "The model has stopped running.",
    "DELETING": "The model is being deleted.",
    "COPYING_IN_PROGRESS": "The model is being copied.",
    "COPYING_COMPLETED": "The model has been copied and is ready to run.",
}


def version_done(row: sqlite3.Row, now_ms: int) -> bool:
    return row["outcome"] is not None and now_ms >= row["ready_ms"]


def version_status(row: sqlite3.Row, now_ms: int) -> tuple[str, str]:
    """(Status, StatusMessage) of a model version row at `now_ms`."""
    if row["deleting_ms"] is not None:
        return "DELETING", VERSION_MESSAGES["DELETING"]
    running, completed, failed = VERSION_PHASES[row["phase"]]
    if not version_done(row, now_ms):
        return running, VERSION_MESSAGES[running]
    if row["outcome"] == "FAILED":
        return failed, row["message"] or VERSION_MESSAGES.get(failed, "")
    return completed, VERSION_MESSAGES[completed]
