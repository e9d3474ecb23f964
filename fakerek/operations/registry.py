"""Every Rekognition operation fakerek serves, by its wire name.

Each is a plain function `(ctx, params) -> output dict` in the module named for its resource.
An operation of Custom Labels missing here is answered with a clear UnknownOperationException.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakerek.operations import copy, datasets, detect, policies, projects, tags, versions
from fakerek.operations.context import Ctx

Operation = Callable[[Ctx, dict[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Operation] = {
    "CreateProject": projects.create_project,
    "DescribeProjects": projects.describe_projects,
    "DeleteProject": projects.delete_project,
    "CreateDataset": datasets.create_dataset,
    "DescribeDataset": datasets.describe_dataset,
    "ListDatasetEntries": datasets.list_dataset_entries,
    "ListDatasetLabels": datasets.list_dataset_labels,
    "UpdateDatasetEntries": datasets.update_dataset_entries,
    "DistributeDatasetEntries": datasets.distribute_dataset_entries,
    "DeleteDataset": datasets.delete_dataset,
    "CreateProjectVersion": versions.create_project_version,
    "DescribeProjectVersions": versions.describe_project_versions,
    "DeleteProjectVersion": versions.delete_project_version,
    "StartProjectVersion": versions.start_project_version,
    "StopProjectVersion": versions.stop_project_version,
    "DetectCustomLabels": detect.detect_custom_labels,
    "CopyProjectVersion": copy.copy_project_version,
    "PutProjectPolicy": policies.put_project_policy,
    "ListProjectPolicies": policies.list_project_policies,
    "DeleteProjectPolicy": policies.delete_project_policy,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsForResource": tags.list_tags_for_resource,
}
