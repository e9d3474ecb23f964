"""Every Rekognition operation fakerek serves, by its wire name, and how each settles.

Each is a plain function `(ctx, params) -> output dict` in the module named for its resource.
`settles` names the background work the call waits for in instant timing (`settling`); an
operation of Custom Labels or Custom Moderation missing here is answered with a clear
UnknownOperationException.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from fakerek.operations import (
    copy,
    datasets,
    detect,
    moderation,
    policies,
    projects,
    tags,
    versions,
)
from fakerek.operations.context import Ctx
from fakerek.operations.settling import (
    Children,
    DatasetAndModels,
    ListedDatasets,
    Settles,
    named,
)

Operation = Callable[[Ctx, dict[str, Any]], dict[str, Any]]


class OperationSpec(NamedTuple):
    func: Operation
    settles: Settles | None = None


OPERATIONS: dict[str, OperationSpec] = {
    "CreateProject": OperationSpec(projects.create_project),
    "DescribeProjects": OperationSpec(projects.describe_projects, ListedDatasets()),
    "DeleteProject": OperationSpec(projects.delete_project),
    "CreateDataset": OperationSpec(datasets.create_dataset, named("DatasetSource.DatasetArn")),
    "DescribeDataset": OperationSpec(datasets.describe_dataset, named("DatasetArn")),
    "ListDatasetEntries": OperationSpec(datasets.list_dataset_entries, named("DatasetArn")),
    "ListDatasetLabels": OperationSpec(datasets.list_dataset_labels, named("DatasetArn")),
    "UpdateDatasetEntries": OperationSpec(datasets.update_dataset_entries, named("DatasetArn")),
    "DistributeDatasetEntries": OperationSpec(
        datasets.distribute_dataset_entries, named("Datasets[].Arn")
    ),
    "DeleteDataset": OperationSpec(datasets.delete_dataset, DatasetAndModels()),
    "CreateProjectVersion": OperationSpec(versions.create_project_version, Children("dataset")),
    "DescribeProjectVersions": OperationSpec(
        versions.describe_project_versions, Children("version", names="VersionNames")
    ),
    "DeleteProjectVersion": OperationSpec(
        versions.delete_project_version, named("ProjectVersionArn")
    ),
    "StartProjectVersion": OperationSpec(
        versions.start_project_version, named("ProjectVersionArn")
    ),
    "StopProjectVersion": OperationSpec(versions.stop_project_version, named("ProjectVersionArn")),
    "DetectCustomLabels": OperationSpec(detect.detect_custom_labels, named("ProjectVersionArn")),
    "DetectModerationLabels": OperationSpec(
        moderation.detect_moderation_labels, named("ProjectVersion")
    ),
    "CopyProjectVersion": OperationSpec(
        copy.copy_project_version, named("SourceProjectVersionArn")
    ),
    "PutProjectPolicy": OperationSpec(policies.put_project_policy),
    "ListProjectPolicies": OperationSpec(policies.list_project_policies),
    "DeleteProjectPolicy": OperationSpec(policies.delete_project_policy),
    "TagResource": OperationSpec(tags.tag_resource),
    "UntagResource": OperationSpec(tags.untag_resource),
    "ListTagsForResource": OperationSpec(tags.list_tags_for_resource),
}
