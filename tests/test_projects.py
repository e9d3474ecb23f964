"""CreateProject, DescribeProjects, DeleteProject: ARNs, filters, pagination, deletion timing."""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError
from conftest import error_of

ARN = re.compile(
    r"arn:aws:rekognition:us-east-1:123456789012:project/(?P<name>[^/]+)/"
    r"(?P<ms>[0-9]{13})"
)


def names(response):
    return [p["ProjectArn"].split("/")[1] for p in response["ProjectDescriptions"]]


def test_create_and_describe(rekognition):
    arn = rekognition.create_project(ProjectName="my-proj_1.0")["ProjectArn"]
    match = ARN.fullmatch(arn)
    assert match and match["name"] == "my-proj_1.0"
    [project] = rekognition.describe_projects()["ProjectDescriptions"]
    assert project["ProjectArn"] == arn
    assert project["Status"] == "CREATED"
    assert project["Datasets"] == []
    assert project["Feature"] == "CUSTOM_LABELS"
    assert "AutoUpdate" not in project
    assert round(project["CreationTimestamp"].timestamp() * 1000) == int(match["ms"])
    assert abs(project["CreationTimestamp"].timestamp() - time.time()) < 60


def test_arn_milliseconds_are_unique(rekognition):
    arns = [rekognition.create_project(ProjectName=f"p{i}")["ProjectArn"] for i in range(10)]
    stamps = [int(ARN.fullmatch(a)["ms"]) for a in arns]
    assert stamps == sorted(set(stamps))


def test_duplicate_name_is_in_use(rekognition, project):
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="proj")
    assert error_of(excinfo)["Code"] == "ResourceInUseException"


def test_content_moderation_projects(rekognition):
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="adapter", Feature="CONTENT_MODERATION")
    assert error_of(excinfo)["Code"] == "InvalidParameterException"
    assert "AutoUpdate is required" in error_of(excinfo)["Message"]
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="cl", AutoUpdate="ENABLED")
    assert error_of(excinfo)["Code"] == "InvalidParameterException"
    rekognition.create_project(
        ProjectName="adapter", Feature="CONTENT_MODERATION", AutoUpdate="ENABLED"
    )
    rekognition.create_project(ProjectName="cl")
    assert names(rekognition.describe_projects()) == ["cl"]
    [adapter] = rekognition.describe_projects(Features=["CONTENT_MODERATION"])[
        "ProjectDescriptions"
    ]
    assert (adapter["Feature"], adapter["AutoUpdate"]) == ("CONTENT_MODERATION", "ENABLED")
    both = rekognition.describe_projects(Features=["CUSTOM_LABELS", "CONTENT_MODERATION"])
    assert names(both) == ["adapter", "cl"]


def test_name_filter_skips_unknown_names(rekognition):
    for name in ("a", "b", "c"):
        rekognition.create_project(ProjectName=name)
    assert names(rekognition.describe_projects(ProjectNames=["c", "zzz", "a"])) == ["a", "c"]
    assert rekognition.describe_projects(ProjectNames=["zzz"])["ProjectDescriptions"] == []


def test_pagination_in_creation_order(rekognition):
    created = [f"p{i}" for i in range(7)]
    for name in created:
        rekognition.create_project(ProjectName=name)
    first = rekognition.describe_projects(MaxResults=3, NextToken="")
    assert names(first) == created[:3] and first["NextToken"]
    second = rekognition.describe_projects(MaxResults=3, NextToken=first["NextToken"])
    third = rekognition.describe_projects(MaxResults=3, NextToken=second["NextToken"])
    assert names(second) == created[3:6]
    assert names(third) == created[6:] and "NextToken" not in third
    pages = rekognition.get_paginator("describe_projects").paginate(
        PaginationConfig={"PageSize": 2}
    )
    assert [n for page in pages for n in names(page)] == created
    exact = rekognition.describe_projects(MaxResults=7)
    assert "NextToken" not in exact


def test_pages_stay_stable_when_items_are_deleted(rekognition):
    arns = [rekognition.create_project(ProjectName=f"p{i}")["ProjectArn"] for i in range(4)]
    first = rekognition.describe_projects(MaxResults=2)
    rekognition.delete_project(ProjectArn=arns[1])
    rest = rekognition.describe_projects(MaxResults=2, NextToken=first["NextToken"])
    assert names(rest) == ["p2", "p3"]


@pytest.mark.parametrize("token", ["garbage!", "eyJvIjoiWCJ9", "a" * 1024])
def test_bad_tokens(rekognition, token):
    with pytest.raises(ClientError) as excinfo:
        rekognition.describe_projects(NextToken=token)
    assert error_of(excinfo)["Code"] == "InvalidPaginationTokenException"


def test_token_is_bound_to_its_filters_and_operation(rekognition, project):
    rekognition.create_project(ProjectName="other")
    token = rekognition.describe_projects(MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as excinfo:
        rekognition.describe_projects(MaxResults=1, NextToken=token, ProjectNames=["proj"])
    assert error_of(excinfo)["Code"] == "InvalidPaginationTokenException"
    with pytest.raises(ClientError) as excinfo:
        rekognition.list_project_policies(ProjectArn=project, NextToken=token)
    assert error_of(excinfo)["Code"] == "InvalidPaginationTokenException"


def test_delete_answers_deleting_then_the_project_is_gone(rekognition, project):
    assert rekognition.delete_project(ProjectArn=project)["Status"] == "DELETING"
    assert rekognition.describe_projects(ProjectNames=["proj"])["ProjectDescriptions"] == []
    with pytest.raises(ClientError) as excinfo:
        rekognition.delete_project(ProjectArn=project)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    again = rekognition.create_project(ProjectName="proj")["ProjectArn"]
    assert again != project


def test_delete_unknown_and_foreign_projects(rekognition, project):
    for arn in (
        project[:-1] + ("0" if project[-1] != "0" else "1"),
        project.replace("us-east-1", "eu-west-1"),
        project.replace("123456789012", "999999999999"),
    ):
        with pytest.raises(ClientError) as excinfo:
            rekognition.delete_project(ProjectArn=arn)
        assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        rekognition.delete_project(ProjectArn="arn:aws:rekognition:us-east-1:123:project/p/1")
    assert error_of(excinfo)["Code"] == "ValidationException"


def test_realistic_timing_shows_deleting(fakerek, rekognition, project):
    fakerek.configure(timing="realistic", delays={"deleting": 2})
    assert rekognition.delete_project(ProjectArn=project)["Status"] == "DELETING"
    [shown] = rekognition.describe_projects()["ProjectDescriptions"]
    assert shown["Status"] == "DELETING"
    assert rekognition.delete_project(ProjectArn=project)["Status"] == "DELETING"
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="proj")
    assert error_of(excinfo)["Code"] == "ResourceInUseException"
    with pytest.raises(ClientError) as excinfo:
        rekognition.tag_resource(ResourceArn=project, Tags={"k": "v"})
    assert error_of(excinfo)["Code"] == "InvalidParameterException"
    deadline = time.time() + 10
    while rekognition.describe_projects()["ProjectDescriptions"] and time.time() < deadline:
        time.sleep(0.1)
    assert rekognition.describe_projects()["ProjectDescriptions"] == []
    rekognition.create_project(ProjectName="proj")


def test_project_quota(fakerek, rekognition):
    fakerek.configure(max_projects=2)
    rekognition.create_project(ProjectName="a")
    rekognition.create_project(ProjectName="b")
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="c")
    assert error_of(excinfo)["Code"] == "LimitExceededException"
    # the quota is per account and region
    fakerek.client(region="eu-west-1").create_project(ProjectName="c")
