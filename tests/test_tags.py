"""TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from conftest import error_of

DATASET = "arn:aws:rekognition:us-east-1:123456789012:project/proj/dataset/train/1700000000000"
VERSION = "arn:aws:rekognition:us-east-1:123456789012:project/proj/version/v1/1700000000000"


def test_tags_at_creation_merge_and_untag(rekognition):
    arn = rekognition.create_project(ProjectName="p", Tags={"a": "1", "b": "2"})["ProjectArn"]
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1", "b": "2"}
    rekognition.tag_resource(ResourceArn=arn, Tags={"b": "two", "c": ""})
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {
        "a": "1",
        "b": "two",
        "c": "",
    }
    rekognition.untag_resource(ResourceArn=arn, TagKeys=["a", "not-there"])
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "two", "c": ""}
    rekognition.tag_resource(ResourceArn=arn, Tags={})
    rekognition.untag_resource(ResourceArn=arn, TagKeys=[])
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "two", "c": ""}


def test_no_tags_is_an_empty_map(rekognition, project):
    assert rekognition.list_tags_for_resource(ResourceArn=project)["Tags"] == {}


def test_keys_are_case_sensitive(rekognition, project):
    rekognition.tag_resource(ResourceArn=project, Tags={"Key": "1", "key": "2"})
    assert rekognition.list_tags_for_resource(ResourceArn=project)["Tags"] == {
        "Key": "1",
        "key": "2",
    }


def test_quota_adds_nothing_when_exceeded(fakerek, rekognition, project):
    fakerek.configure(max_tags_per_resource=3)
    rekognition.tag_resource(ResourceArn=project, Tags={"a": "1", "b": "2"})
    rekognition.tag_resource(ResourceArn=project, Tags={"a": "x", "c": "3"})  # 3 distinct keys
    with pytest.raises(ClientError) as excinfo:
        rekognition.tag_resource(ResourceArn=project, Tags={"d": "4", "a": "y"})
    assert error_of(excinfo)["Code"] == "ServiceQuotaExceededException"
    assert rekognition.list_tags_for_resource(ResourceArn=project)["Tags"] == {
        "a": "x",
        "b": "2",
        "c": "3",
    }
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="many", Tags={k: "v" for k in "abcd"})
    assert error_of(excinfo)["Code"] == "InvalidParameterException"


def test_more_than_200_tags_is_a_validation_error(rekognition, project):
    with pytest.raises(ClientError) as excinfo:
        rekognition.tag_resource(ResourceArn=project, Tags={f"k{i}": "v" for i in range(201)})
    assert error_of(excinfo)["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 200" in error_of(excinfo)["Message"]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:s3:::my-bucket-name-here",
        "arn:aws:rekognition:us-east-1:123456789012:collection/faces",
        "arn:aws:rekognition:us-east-1:123456789012:project/proj/1/extra",
    ],
)
@pytest.mark.parametrize("call", ["tag", "untag", "list"])
def test_arns_of_other_kinds_are_invalid(rekognition, arn, call):
    with pytest.raises(ClientError) as excinfo:
        if call == "tag":
            rekognition.tag_resource(ResourceArn=arn, Tags={"a": "b"})
        elif call == "untag":
            rekognition.untag_resource(ResourceArn=arn, TagKeys=["a"])
        else:
            rekognition.list_tags_for_resource(ResourceArn=arn)
    assert error_of(excinfo)["Code"] == "InvalidParameterException"


@pytest.mark.parametrize(
    "arn", [DATASET, VERSION, "arn:aws:rekognition:us-east-1:123456789012:project/nope/1"]
)
def test_unknown_resources_of_taggable_kinds_are_not_found(rekognition, arn):
    with pytest.raises(ClientError) as excinfo:
        rekognition.tag_resource(ResourceArn=arn, Tags={"a": "b"})
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        rekognition.list_tags_for_resource(ResourceArn=arn)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"


def test_tags_leave_with_their_project(rekognition):
    arn = rekognition.create_project(ProjectName="p", Tags={"a": "1"})["ProjectArn"]
    rekognition.delete_project(ProjectArn=arn)
    with pytest.raises(ClientError) as excinfo:
        rekognition.list_tags_for_resource(ResourceArn=arn)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    new = rekognition.create_project(ProjectName="p")["ProjectArn"]
    assert rekognition.list_tags_for_resource(ResourceArn=new)["Tags"] == {}


def test_value_pattern_and_lengths(rekognition, project):
    with pytest.raises(ClientError) as excinfo:
        rekognition.tag_resource(ResourceArn=project, Tags={"k": "semi;colon", "x" * 129: "v"})
    message = error_of(excinfo)["Message"]
    assert message.startswith("2 validation errors detected")
    assert (
        "Map keys must satisfy constraint: [Member must have length less than or equal to "
        "128]" in message
    )
    assert (
        "Map value must satisfy constraint: [Member must satisfy regular expression pattern: "
        "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$]" in message
    )
