"""Status transitions and their timing.

A transition that AWS runs asynchronously is stored as timestamps: when it started and when it
ends (`start + delay`), read on the server's one clock (`domain.clock`). Status is computed from
those on every read, so it needs no background thread, survives restarts and follows a test's
frozen or advanced clock. With `instant` timing the delay is zero and the next read already
sees the final state; the call that starts the transition still answers the intermediate status.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Protocol

from fakerek.config import DelayKey, Settings

# The service's enums (botocore's model names them so), and the phases fakerek stores.
ProjectStatus = Literal["CREATING", "CREATED", "DELETING"]
Feature = Literal["CUSTOM_LABELS", "CONTENT_MODERATION"]
AutoUpdate = Literal["ENABLED", "DISABLED"]
DatasetType = Literal["TRAIN", "TEST"]
DatasetStatus = Literal[
    "CREATE_IN_PROGRESS",
    "CREATE_COMPLETE",
    "CREATE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "DELETE_IN_PROGRESS",
]
StatusMessageCode = Literal["SUCCESS", "SERVICE_ERROR", "CLIENT_ERROR"]
DatasetPhase = Literal["CREATE", "UPDATE"]
DatasetOutcome = Literal["COMPLETE", "FAILED"]
VersionStatus = Literal[
    "TRAINING_IN_PROGRESS",
    "TRAINING_COMPLETED",
    "TRAINING_FAILED",
    "STARTING",
    "RUNNING",
    "FAILED",
    "STOPPING",
    "STOPPED",
    "DELETING",
    "COPYING_IN_PROGRESS",
    "COPYING_COMPLETED",
    "COPYING_FAILED",
    "DEPRECATED",
    "EXPIRED",
]
VersionPhase = Literal["TRAINING", "STARTING", "STOPPING", "COPYING"]
VersionOutcome = Literal["COMPLETED", "FAILED"]


class ProjectState(Protocol):
    """What a project's status is computed from (the store's `Project` record)."""

    @property
    def deleting_ms(self) -> int | None: ...


class DatasetState(Protocol):
    """What a dataset's status is computed from (the store's `Dataset` record)."""

    @property
    def phase(self) -> DatasetPhase: ...
    @property
    def outcome(self) -> DatasetOutcome | None: ...
    @property
    def ready_ms(self) -> int: ...
    @property
    def finished_ms(self) -> int | None: ...
    @property
    def previous_update_ms(self) -> int: ...
    @property
    def message(self) -> str | None: ...
    @property
    def message_code(self) -> StatusMessageCode | None: ...
    @property
    def deleting_ms(self) -> int | None: ...


class VersionState(Protocol):
    """What a model version's status is computed from (the store's `ProjectVersion` record)."""

    @property
    def phase(self) -> VersionPhase: ...
    @property
    def outcome(self) -> VersionOutcome | None: ...
    @property
    def ready_ms(self) -> int: ...
    @property
    def message(self) -> str | None: ...
    @property
    def deleting_ms(self) -> int | None: ...


class DatasetStatusReport(NamedTuple):
    status: DatasetStatus
    message: str
    code: StatusMessageCode


class VersionStatusReport(NamedTuple):
    status: VersionStatus
    message: str


# What a failure without an error code says (a service error, as AWS words it).
SERVICE_ISSUE = "Amazon Rekognition experienced a service issue."


def ends_at(settings: Settings, transition: DelayKey, start_ms: int) -> int:
    """When a transition of kind `transition` (a `delays` key) that starts now will be over."""
    return start_ms + round(settings.delay(transition) * 1000)


def training_end_ms(finished_ms: int, ready_ms: int | None) -> int:
    """When a training ended as clients see it: not before its status left TRAINING_IN_PROGRESS
    (realistic timing keeps that status until `ready_ms`, after the work itself finished)."""
    return max(finished_ms, ready_ms or 0)


def project_status(project: ProjectState) -> ProjectStatus:
    return "DELETING" if project.deleting_ms is not None else "CREATED"


DATASET_MESSAGES: dict[DatasetStatus, str] = {
    "CREATE_IN_PROGRESS": "The dataset is being created.",
    "CREATE_COMPLETE": "The dataset was successfully created.",  # empty, or a copy
    "UPDATE_IN_PROGRESS": "The dataset is being updated.",
    "UPDATE_COMPLETE": "The dataset was successfully updated.",
    "DELETE_IN_PROGRESS": "The dataset is being deleted.",
}


_DATASET_RUNNING: dict[DatasetPhase, DatasetStatus] = {
    "CREATE": "CREATE_IN_PROGRESS",
    "UPDATE": "UPDATE_IN_PROGRESS",
}
_DATASET_ENDED: dict[tuple[DatasetPhase, DatasetOutcome], DatasetStatus] = {
    ("CREATE", "COMPLETE"): "CREATE_COMPLETE",
    ("CREATE", "FAILED"): "CREATE_FAILED",
    ("UPDATE", "COMPLETE"): "UPDATE_COMPLETE",
    ("UPDATE", "FAILED"): "UPDATE_FAILED",
}

# AWS's DescribeProjects example: CREATE_COMPLETE after an import from a manifest.
CREATED_FROM_MANIFEST = "The dataset was successfully created from the manifest file."


def dataset_done(dataset: DatasetState, now_ms: int) -> bool:
    """The running create/update/distribute has finished and its delay has passed."""
    return dataset.outcome is not None and now_ms >= dataset.ready_ms


def dataset_status(dataset: DatasetState, now_ms: int) -> DatasetStatusReport:
    """Status, StatusMessage and StatusMessageCode of a dataset at `now_ms`."""
    if dataset.deleting_ms is not None:
        status: DatasetStatus = "DELETE_IN_PROGRESS"
    elif dataset.outcome is None or not dataset_done(dataset, now_ms):
        status = _DATASET_RUNNING[dataset.phase]
    else:
        status = _DATASET_ENDED[dataset.phase, dataset.outcome]
        if dataset.outcome == "FAILED":
            return DatasetStatusReport(
                status, dataset.message or "", dataset.message_code or "SERVICE_ERROR"
            )
        # a phase that ended well may have stored its own message (an import's)
        return DatasetStatusReport(status, dataset.message or DATASET_MESSAGES[status], "SUCCESS")
    return DatasetStatusReport(status, DATASET_MESSAGES[status], "SUCCESS")


def dataset_last_update_ms(dataset: DatasetState, now_ms: int) -> int:
    if (
        dataset.deleting_ms is None
        and dataset.finished_ms is not None
        and dataset_done(dataset, now_ms)
    ):
        return max(dataset.finished_ms, dataset.ready_ms)
    return dataset.previous_update_ms


# A model's phases: the status while the phase runs, and the status each outcome leads to.
VERSION_PHASES: dict[VersionPhase, tuple[VersionStatus, VersionStatus, VersionStatus]] = {
    "TRAINING": ("TRAINING_IN_PROGRESS", "TRAINING_COMPLETED", "TRAINING_FAILED"),
    "STARTING": ("STARTING", "RUNNING", "FAILED"),
    "STOPPING": ("STOPPING", "STOPPED", "FAILED"),
    "COPYING": ("COPYING_IN_PROGRESS", "COPYING_COMPLETED", "COPYING_FAILED"),
}
VERSION_MESSAGES: dict[VersionStatus, str] = {
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


def version_done(version: VersionState, now_ms: int) -> bool:
    return version.outcome is not None and now_ms >= version.ready_ms


def version_status(version: VersionState, now_ms: int) -> VersionStatusReport:
    """Status and StatusMessage of a model version at `now_ms`."""
    if version.deleting_ms is not None:
        return VersionStatusReport("DELETING", VERSION_MESSAGES["DELETING"])
    running, completed, failed = VERSION_PHASES[version.phase]
    if not version_done(version, now_ms):
        return VersionStatusReport(running, VERSION_MESSAGES[running])
    if version.outcome == "FAILED":
        return VersionStatusReport(failed, version.message or VERSION_MESSAGES.get(failed, ""))
    return VersionStatusReport(completed, VERSION_MESSAGES[completed])
