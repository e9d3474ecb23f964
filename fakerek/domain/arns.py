"""Custom Labels ARNs: how they are built and which resource kind one names.

`arn:{partition}:rekognition:{region}:{account}:project/{name}/{ms}` for a project, with
`/dataset/{train|test}/{ms}` or `/version/{version}/{ms}` after the project name for its children.
Kinds are recognised with the model's own ProjectArn / DatasetArn / ProjectVersionArn patterns.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from fakerek.api.errors import InvalidParameter
from fakerek.api.service_model import service
from fakerek.api.validate import compile_pattern

Kind = Literal["project", "dataset", "version"]
_KIND_SHAPES: tuple[tuple[Kind, str], ...] = (
    ("project", "ProjectArn"),
    ("dataset", "DatasetArn"),
    ("version", "ProjectVersionArn"),
)


class Arn(NamedTuple):
    kind: Kind
    partition: str
    region: str
    account: str
    project: str  # the project's name
    name: str  # the resource's own: the project's name, the dataset's type (train, test), the
    # version's name


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def projects_prefix(region: str, account: str) -> str:
    """What every ARN of the account's Custom Labels resources in `region` begins with."""
    return f"arn:{partition(region)}:rekognition:{region}:{account}:project/"


def project_arn(region: str, account: str, name: str, created_ms: int) -> str:
    return f"{projects_prefix(region, account)}{name}/{created_ms}"


def dataset_arn(project_arn: str, kind: str, created_ms: int) -> str:
    return f"{_project_base(project_arn)}/dataset/{kind.lower()}/{created_ms}"


def version_arn(project_arn: str, name: str, created_ms: int) -> str:
    return f"{_project_base(project_arn)}/version/{name}/{created_ms}"


def children_prefix(project_arn: str, kind: Literal["dataset", "version"]) -> str:
    """What the ARNs of a project's datasets (or models) begin with: `…:project/{name}/dataset/`
    (the project's creation time is not part of them)."""
    return f"{_project_base(project_arn)}/{kind}/"


def _project_base(project_arn: str) -> str:
    """`arn:…:project/{name}` without the project's creation time."""
    return project_arn.rsplit("/", 1)[0]


def of(arn: str) -> Arn:
    """The parts of an ARN the wire model has already checked (its pattern is a Custom Labels
    one); InvalidParameterException if it names no Custom Labels resource after all."""
    parsed = parse(arn)
    if parsed is None:
        raise InvalidParameter(f"{arn} is not the ARN of a Custom Labels resource.")
    return parsed


def parse(arn: str) -> Arn | None:
    """The kind and scope of a Custom Labels ARN, or None when it names no such resource."""
    for kind, shape_name in _KIND_SHAPES:
        pattern = service().shape(shape_name).metadata["pattern"]
        if compile_pattern(pattern).fullmatch(arn):
            head, _, path = arn.partition(":project/")
            _, part, _, region, account = head.split(":")
            parts = path.split("/")  # name/ms, or name/{dataset|version}/{type|version}/ms
            project = parts[0]
            return Arn(
                kind, part, region, account, project, project if kind == "project" else parts[2]
            )
    return None
