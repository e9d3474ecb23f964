"""botocore's Rekognition service model: the single source of truth for the wire.

Loaded once per process. Everything about shapes, constraints, error lists and page sizes is read
from here rather than typed again.
"""

from __future__ import annotations

import functools

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel, Shape

# The operations of Rekognition that belong to Custom Labels (projects, datasets, models, policies,
# tags, inference), and DetectModerationLabels, which Custom Moderation adapters serve through.
# Every other operation of the service model is out of fakerek's scope.
CUSTOM_LABELS_OPERATIONS = frozenset(
    {
        "CreateProject",
        "DeleteProject",
        "DescribeProjects",
        "PutProjectPolicy",
        "ListProjectPolicies",
        "DeleteProjectPolicy",
        "CreateDataset",
        "DeleteDataset",
        "DescribeDataset",
        "DistributeDatasetEntries",
        "ListDatasetEntries",
        "ListDatasetLabels",
        "UpdateDatasetEntries",
        "CreateProjectVersion",
        "CopyProjectVersion",
        "DeleteProjectVersion",
        "DescribeProjectVersions",
        "StartProjectVersion",
        "StopProjectVersion",
        "DetectCustomLabels",
        "DetectModerationLabels",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
    }
)

# Errors any JSON 1.1 front end may answer whatever the operation's modeled error list says.
PROTOCOL_ERRORS = frozenset(
    {
        "ValidationException",
        "SerializationException",
        "UnknownOperationException",
    }
)


class Service:
    """The loaded model plus the few derived facts the server asks for on every request."""

    def __init__(self) -> None:
        raw = create_loader().load_service_model("rekognition", "service-2")
        self.model = ServiceModel(raw, service_name="rekognition")
        self.target_prefix: str = self.model.metadata["targetPrefix"]
        self._faults = {name for name, shape in raw["shapes"].items() if shape.get("fault")}
        self._operations = set(self.model.operation_names)

    def has_operation(self, name: str) -> bool:
        return name in self._operations

    @functools.cache  # noqa: B019 - one Service per process; the cache lives as long as it does
    def operation(self, name: str) -> OperationModel:
        return self.model.operation_model(name)

    def shape(self, name: str) -> Shape:
        return self.model.shape_for(name)

    def http_status(self, error_code: str) -> int:
        """500 for the shapes the model marks as server faults, 400 for every other error."""
        return 500 if error_code in self._faults else 400

    @functools.cache  # noqa: B019
    def errors_of(self, operation: str) -> frozenset[str]:
        """Error codes `operation` may answer: its modeled list plus the protocol-level ones."""
        modeled = {shape.name for shape in self.operation(operation).error_shapes}
        return frozenset(modeled | PROTOCOL_ERRORS)

    def is_error(self, code: str) -> bool:
        return code in PROTOCOL_ERRORS or (
            code in self.model.shape_names and self.model.shape_for(code).metadata.get("exception")
        )

    def default_page_size(self, operation: str) -> int:
        """MaxResults when the caller gives none: AWS documents it as the modeled maximum."""
        size: int = self.operation(operation).input_shape.members["MaxResults"].metadata["max"]
        return size


@functools.cache
def service() -> Service:
    return Service()
