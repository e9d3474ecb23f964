"""What the store returns: frozen records, named as the service names the resources.

A record is what one committed snapshot held; it carries no connection and no row. The status of
a resource depends on the time it is read at (a transition is stored as its start and end), so
it is a method given that time, computed by the rules of `domain.lifecycle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from fakerek.api.wire import JsonObject
from fakerek.domain import lifecycle
from fakerek.domain.lifecycle import (
    AutoUpdate,
    DatasetOutcome,
    DatasetPhase,
    DatasetStatus,
    DatasetStatusReport,
    DatasetType,
    Feature,
    ProjectStatus,
    StatusMessageCode,
    VersionOutcome,
    VersionPhase,
    VersionStatus,
    VersionStatusReport,
)


@dataclass(frozen=True)
class Project:
    id: int
    account: str
    region: str
    name: str
    arn: str
    created_ms: int
    feature: Feature
    auto_update: AutoUpdate | None
    deleting_ms: int | None  # DeleteProject was called then
    gone_ms: int | None  # the deletion is over then

    def status(self) -> ProjectStatus:
        return lifecycle.project_status(self)


class DatasetStats(NamedTuple):
    total: int
    labeled: int
    labels: int
    errors: int


@dataclass(frozen=True)
class Dataset:
    """A dataset with the parts of its project that its operations check."""

    id: int
    project_id: int
    kind: DatasetType
    arn: str
    created_ms: int
    phase: DatasetPhase  # the create, update or split that ran last
    outcome: DatasetOutcome | None  # None: it is still running
    ready_ms: int  # when its status may leave _IN_PROGRESS
    finished_ms: int | None
    previous_update_ms: int  # LastUpdatedTimestamp until the running phase shows as ended
    message: str | None
    message_code: StatusMessageCode | None
    stats: DatasetStats  # counted when the last phase ended well
    previous_stats: DatasetStats  # shown while a phase runs
    deleting_ms: int | None
    gone_ms: int | None
    feature: Feature  # the project's

    def done(self, now_ms: int) -> bool:
        return lifecycle.dataset_done(self, now_ms)

    def status(self, now_ms: int) -> DatasetStatus:
        return lifecycle.dataset_status(self, now_ms).status

    def described_status(self, now_ms: int) -> DatasetStatusReport:
        """Status, StatusMessage and StatusMessageCode."""
        return lifecycle.dataset_status(self, now_ms)

    def last_update_ms(self, now_ms: int) -> int:
        return lifecycle.dataset_last_update_ms(self, now_ms)

    def visible_stats(self, now_ms: int) -> DatasetStats:
        """The running phase's counts are not visible before it ends."""
        return self.stats if self.done(now_ms) else self.previous_stats


class DatasetEntry(NamedTuple):
    """One line of a dataset, as ListDatasetEntries shows it (`entry`, JSON text)."""

    position: int
    source_ref: str
    entry: str
    is_labeled: bool


class DatasetLabel(NamedTuple):
    name: str
    entries: int  # entries carrying the label
    boxes: int  # of its bounding boxes


@dataclass(frozen=True)
class ProjectVersion:
    """A model with the parts of its project that its operations check. `request` keeps what
    CreateProjectVersion (or CopyProjectVersion) was given; `results` what training produced."""

    id: int
    project_id: int
    name: str
    arn: str
    created_ms: int
    phase: VersionPhase
    outcome: VersionOutcome | None  # None: the phase's work is still running
    ready_ms: int  # when its status may leave the phase's running status
    finished_ms: int | None
    message: str | None
    training_end_ms: int | None
    request: JsonObject
    results: JsonObject
    min_units: int | None
    max_units: int | None
    deleting_ms: int | None
    gone_ms: int | None
    project_name: str
    feature: Feature  # the project's

    def done(self, now_ms: int) -> bool:
        return lifecycle.version_done(self, now_ms)

    def status(self, now_ms: int) -> VersionStatus:
        return lifecycle.version_status(self, now_ms).status

    def described_status(self, now_ms: int) -> VersionStatusReport:
        """Status and StatusMessage."""
        return lifecycle.version_status(self, now_ms)


@dataclass(frozen=True)
class ProjectPolicy:
    project_id: int
    name: str
    revision: str
    document: str
    created_ms: int
    updated_ms: int
