"""PutProjectPolicy, ListProjectPolicies, DeleteProjectPolicy: documents, revisions, quota."""

from __future__ import annotations

import copy
import json

import pytest
from botocore.exceptions import ClientError
from conftest import POLICY, error_of

DOC = json.dumps(POLICY)


def put(rekognition, project, name="copy", document=DOC, **kwargs):
    return rekognition.put_project_policy(
        ProjectArn=project, PolicyName=name, PolicyDocument=document, **kwargs
    )["PolicyRevisionId"]


def test_put_list_and_replace(rekognition, project):
    first = put(rekognition, project)
    assert len(first) == 32 and int(first, 16) >= 0
    [policy] = rekognition.list_project_policies(ProjectArn=project)["ProjectPolicies"]
    assert policy["ProjectArn"] == project
    assert (policy["PolicyName"], policy["PolicyRevisionId"]) == ("copy", first)
    assert policy["PolicyDocument"] == DOC
    assert policy["CreationTimestamp"] == policy["LastUpdatedTimestamp"]
    changed = DOC.replace("111111111111", "222222222222")
    second = put(rekognition, project, document=changed, PolicyRevisionId=first.upper())
    assert second != first
    [policy2] = rekognition.list_project_policies(ProjectArn=project)["ProjectPolicies"]
    assert policy2["PolicyDocument"] == changed and policy2["PolicyRevisionId"] == second
    assert policy2["CreationTimestamp"] == policy["CreationTimestamp"]
    assert policy2["LastUpdatedTimestamp"] > policy["LastUpdatedTimestamp"]


def test_revision_rules(rekognition, project):
    current = put(rekognition, project)
    cases = [
        ({}, "ResourceAlreadyExistsException"),
        ({"PolicyRevisionId": "abc123"}, "InvalidPolicyRevisionIdException"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as excinfo:
            put(rekognition, project, **kwargs)
        assert error_of(excinfo)["Code"] == code
    with pytest.raises(ClientError) as excinfo:
        put(rekognition, project, name="fresh", PolicyRevisionId=current)
    assert error_of(excinfo)["Code"] == "InvalidPolicyRevisionIdException"
    newer = put(rekognition, project, PolicyRevisionId=current)
    with pytest.raises(ClientError) as excinfo:  # the old revision is gone
        rekognition.delete_project_policy(
            ProjectArn=project, PolicyName="copy", PolicyRevisionId=current
        )
    assert error_of(excinfo)["Code"] == "InvalidPolicyRevisionIdException"
    rekognition.delete_project_policy(ProjectArn=project, PolicyName="copy", PolicyRevisionId=newer)
    assert rekognition.list_project_policies(ProjectArn=project)["ProjectPolicies"] == []
    with pytest.raises(ClientError) as excinfo:
        rekognition.delete_project_policy(ProjectArn=project, PolicyName="copy")
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"


def test_delete_without_revision(rekognition, project):
    put(rekognition, project)
    rekognition.delete_project_policy(ProjectArn=project, PolicyName="copy")
    assert rekognition.list_project_policies(ProjectArn=project)["ProjectPolicies"] == []


def test_policies_of_a_project_being_deleted_cannot_change(fakerek, rekognition, project):
    """A DELETING project refuses every change to its children (its policies go with it)."""
    put(rekognition, project)
    fakerek.configure(timing="realistic", delays={"deleting": 30})
    assert rekognition.delete_project(ProjectArn=project)["Status"] == "DELETING"
    for change in (
        lambda: put(rekognition, project, name="other"),
        lambda: rekognition.delete_project_policy(ProjectArn=project, PolicyName="copy"),
    ):
        with pytest.raises(ClientError) as excinfo:
            change()
        assert error_of(excinfo)["Code"] == "InvalidParameterException"
        assert "is being deleted" in error_of(excinfo)["Message"]
    [kept] = rekognition.list_project_policies(ProjectArn=project)["ProjectPolicies"]
    assert kept["PolicyName"] == "copy"


def test_five_policies_at_most_and_pagination(rekognition, project):
    for i in range(5):
        put(rekognition, project, name=f"p{i}")
    with pytest.raises(ClientError) as excinfo:
        put(rekognition, project, name="p5")
    assert error_of(excinfo)["Code"] == "ServiceQuotaExceededException"
    first = rekognition.list_project_policies(ProjectArn=project, MaxResults=2, NextToken="")
    assert [p["PolicyName"] for p in first["ProjectPolicies"]] == ["p0", "p1"]
    pages = rekognition.get_paginator("list_project_policies").paginate(
        ProjectArn=project, PaginationConfig={"PageSize": 2}
    )
    assert [p["PolicyName"] for page in pages for p in page["ProjectPolicies"]] == [
        f"p{i}" for i in range(5)
    ]
    with pytest.raises(ClientError) as excinfo:
        rekognition.list_project_policies(ProjectArn=project, MaxResults=6)
    assert error_of(excinfo)["Code"] == "ValidationException"


def _mutated(**changes):
    doc = copy.deepcopy(POLICY)
    statement = doc["Statement"][0]
    for key, value in changes.items():
        if value is None:
            statement.pop(key)
        else:
            statement[key] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    "document, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (json.dumps({"Version": "2012-10-17"}), "at least one Statement"),
        (json.dumps({"Statement": []}), "at least one Statement"),
        (_mutated(Effect=None), "lacks the required field Effect"),
        (_mutated(Principal=None), "lacks the required field Principal"),
        (_mutated(Action=None), "lacks the required field Action"),
        (_mutated(Resource=None), "lacks the required field Resource"),
        (_mutated(NotAction="rekognition:DetectCustomLabels"), "prohibited field NotAction"),
        (_mutated(NotResource="*"), "prohibited field NotResource"),
        (_mutated(NotPrincipal={"AWS": "*"}), "prohibited field NotPrincipal"),
        (_mutated(Action="rekognition:DetectCustomLabels"), "only supported Action"),
        (
            _mutated(Action=["rekognition:CopyProjectVersion", "s3:GetObject"]),
            "only supported Action",
        ),
        (_mutated(Effect="Maybe"), "use Allow or Deny"),
        (
            _mutated(Resource="arn:aws:rekognition:us-east-1:123456789012:project/other/version/*"),
            "Resource must be model ARNs of project proj",
        ),
        (_mutated(Resource="*"), "Resource must be model ARNs"),
    ],
)
def test_malformed_documents(rekognition, project, document, fragment):
    with pytest.raises(ClientError) as excinfo:
        put(rekognition, project, document=document)
    error = error_of(excinfo)
    assert error["Code"] == "MalformedPolicyDocumentException"
    assert fragment in error["Message"]
    assert rekognition.list_project_policies(ProjectArn=project)["ProjectPolicies"] == []


def test_accepted_document_variants(rekognition, project):
    variants = [
        _mutated(Effect="DENY", Principal="*"),
        _mutated(Action=["rekognition:copyprojectversion"]),
        json.dumps(
            {
                "Statement": {
                    **POLICY["Statement"][0],
                    "Resource": [
                        "arn:aws:rekognition:us-east-1:123456789012:project/proj/version/v1/1627045542080"
                    ],
                }
            }
        ),
    ]
    for i, document in enumerate(variants):
        put(rekognition, project, name=f"v{i}", document=document)


def test_document_constraints_are_validation_errors(rekognition, project):
    with pytest.raises(ClientError) as excinfo:
        put(rekognition, project, document=DOC.replace("Allow", "Allow\u0100"))
    assert "regular expression pattern" in error_of(excinfo)["Message"]
    with pytest.raises(ClientError) as excinfo:
        put(rekognition, project, document=DOC + " " * 2000)
    assert "less than or equal to 2000" in error_of(excinfo)["Message"]


def test_unknown_project_and_adapters(rekognition):
    missing = "arn:aws:rekognition:us-east-1:123456789012:project/proj/1700000000000"
    with pytest.raises(ClientError) as excinfo:
        put(rekognition, missing)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        rekognition.list_project_policies(ProjectArn=missing)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    adapter = rekognition.create_project(
        ProjectName="proj", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED"
    )["ProjectArn"]
    for call in (
        lambda: put(rekognition, adapter),
        lambda: rekognition.list_project_policies(ProjectArn=adapter),
        lambda: rekognition.delete_project_policy(ProjectArn=adapter, PolicyName="x"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)["Code"] == "InvalidParameterException"


def test_policies_leave_with_their_project(rekognition, project):
    put(rekognition, project)
    rekognition.delete_project(ProjectArn=project)
    new = rekognition.create_project(ProjectName="proj")["ProjectArn"]
    assert rekognition.list_project_policies(ProjectArn=new)["ProjectPolicies"] == []
