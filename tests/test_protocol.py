"""The JSON 1.1 wire: routing, errors, validation messages, encodings, malformed requests."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest import error_of, raw_call

from fakerek.api.errors import SerializationError, ValidationError
from fakerek.api.service_model import CUSTOM_LABELS_OPERATIONS, service
from fakerek.api.validate import parse_input
from fakerek.config import Settings
from fakerek.operations.registry import OPERATIONS

TARGET = "RekognitionService."


def test_error_body_has_type_code_message_and_request_id(fakerek):
    status, headers, body = raw_call(
        fakerek.endpoint, TARGET + "DescribeProjects", '{"MaxResults": 101}'
    )
    assert status == 400
    assert body["__type"] == body["Code"] == "ValidationException"
    assert body["Message"] == (
        "1 validation error detected: Value '101' at 'maxResults' failed "
        "to satisfy constraint: Member must have value less than or equal "
        "to 100"
    )
    assert headers["x-amzn-requestid"]
    assert headers["content-type"] == "application/x-amz-json-1.1"


def test_success_has_request_id_and_epoch_number_timestamps(fakerek):
    raw_call(fakerek.endpoint, TARGET + "CreateProject", '{"ProjectName": "p"}')
    status, headers, body = raw_call(fakerek.endpoint, TARGET + "DescribeProjects", "")
    assert status == 200 and headers["x-amzn-requestid"]
    created = body["ProjectDescriptions"][0]["CreationTimestamp"]
    assert isinstance(created, float)
    assert "NextToken" not in body and "AutoUpdate" not in body["ProjectDescriptions"][0]


def test_boto3_sees_request_id(rekognition):
    meta = rekognition.describe_projects()["ResponseMetadata"]
    assert len(meta["RequestId"]) == 36


def test_pattern_is_a_full_match(rekognition):
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="my project")
    assert error_of(excinfo) == {
        "Code": "ValidationException",
        "Status": 400,
        "Message": "1 validation error detected: Value 'my project' at 'projectName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9_.\\-]+",
    }


def test_violations_are_all_collected(rekognition):
    with pytest.raises(ClientError) as excinfo:
        rekognition.describe_projects(
            ProjectNames=["ok", "not ok"], Features=["NOPE"], MaxResults=500
        )
    message = error_of(excinfo)["Message"]
    assert message.startswith("3 validation errors detected: ")
    assert (
        "Value 'not ok' at 'projectNames.2.member' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+"
    ) in message
    assert (
        "Value 'NOPE' at 'features.1.member' failed to satisfy constraint: Member must satisfy "
        "enum value set: [CONTENT_MODERATION, CUSTOM_LABELS]"
    ) in message
    assert "Value '500' at 'maxResults'" in message


def test_max_length_and_list_size(rekognition):
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="a" * 256)
    assert error_of(excinfo)["Message"].endswith(
        "at 'projectName' failed to satisfy constraint: Member must have length less than or "
        "equal to 255"
    )
    with pytest.raises(ClientError) as excinfo:
        rekognition.describe_projects(ProjectNames=[f"p{i}" for i in range(11)])
    assert (
        "Value '[p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10]' at 'projectNames' failed to "
        "satisfy constraint: Member must have length less than or equal to 10"
    ) in error_of(excinfo)["Message"]


def test_required_and_minimums_are_checked_by_the_server(unvalidated):
    with pytest.raises(ClientError) as excinfo:
        unvalidated.create_project()
    assert error_of(excinfo)["Message"] == (
        "1 validation error detected: Value null at 'projectName' failed to satisfy constraint: "
        "Member must not be null"
    )
    with pytest.raises(ClientError) as excinfo:
        unvalidated.describe_projects(MaxResults=0, ProjectNames=[])
    message = error_of(excinfo)["Message"]
    assert message.startswith("2 validation errors detected")
    assert "Member must have value greater than or equal to 1" in message
    assert (
        "Value '[]' at 'projectNames' failed to satisfy constraint: Member must have length "
        "greater than or equal to 1" in message
    )


def test_map_key_pattern_uses_unicode_classes(rekognition):
    arn = rekognition.create_project(ProjectName="p", Tags={"Équipe données": "värde 42"})[
        "ProjectArn"
    ]
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {
        "Équipe données": "värde 42"
    }
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project(ProjectName="q", Tags={"aws:reserved": "x"})
    assert error_of(excinfo)["Message"] == (
        "1 validation error detected: Value '{aws:reserved=x}' at 'tags' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must satisfy regular expression "
        "pattern: ^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$]"
    )


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"MaxResults": "ten"}', "Expected an integer at 'maxResults'"),
        ('{"MaxResults": 1.5}', "Expected an integer at 'maxResults'"),
        ('{"MaxResults": 99999999999}', "out of range"),
        ('{"ProjectNames": "p"}', "Expected an array at 'projectNames'"),
        ('{"ProjectNames": [7]}', "Expected a string at 'projectNames.1.member'"),
        ('{"MaxResults": NaN}', "NaN is not a valid JSON number"),
        (b'{"NextToken": "\xff\xfe"}', "not valid UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_bodies_are_serialization_errors(fakerek, body, fragment):
    status, _, answer = raw_call(fakerek.endpoint, TARGET + "DescribeProjects", body)
    assert (status, answer["__type"]) == (400, "SerializationException")
    assert fragment in answer["Message"]


def test_nulls_and_unknown_members_are_ignored(fakerek):
    status, _, body = raw_call(
        fakerek.endpoint,
        TARGET + "DescribeProjects",
        '{"MaxResults": null, "Surprise": {"deep": [1, 2]}}',
    )
    assert status == 200 and body == {"ProjectDescriptions": []}


@pytest.mark.parametrize(
    "target, fragment",
    [
        (None, "X-Amz-Target is missing"),
        ("SomethingElse.DescribeProjects", "expected RekognitionService.<Operation>"),
        (TARGET + "MakeCoffee", "no operation named 'MakeCoffee'"),
        (TARGET + "DetectLabels", "outside Custom Labels"),
    ],
)
def test_unknown_operations(fakerek, target, fragment):
    status, _, body = raw_call(fakerek.endpoint, target, "{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert fragment in body["Message"]


def test_every_custom_labels_operation_is_served():
    assert set(OPERATIONS) == CUSTOM_LABELS_OPERATIONS
    assert all(service().has_operation(name) for name in OPERATIONS)


def test_oversized_body_is_refused_cleanly(fakerek):
    limit = Settings().max_body_bytes
    body = '{"NextToken": "' + "a" * limit + '"}'
    status, headers, answer = raw_call(fakerek.endpoint, TARGET + "DescribeProjects", body)
    assert status == 413
    assert answer["__type"] == "RequestEntityTooLargeException"
    assert f"exceeds the limit of {limit} bytes" in answer["Message"]
    assert "max" not in answer["Message"]  # messages never name a fakerek setting: the log does
    assert "raise --max-body-bytes" in fakerek.log()
    assert fakerek.client().describe_projects()["ProjectDescriptions"] == []


def test_region_comes_from_the_signature_scope(fakerek):
    east, west = fakerek.client(region="us-east-1"), fakerek.client(region="eu-west-1")
    arn = west.create_project(ProjectName="p")["ProjectArn"]
    assert arn.startswith("arn:aws:rekognition:eu-west-1:123456789012:project/p/")
    assert east.describe_projects()["ProjectDescriptions"] == []
    assert [p["ProjectArn"] for p in west.describe_projects()["ProjectDescriptions"]] == [arn]
    china = fakerek.client(region="cn-north-1")
    assert china.create_project(ProjectName="p")["ProjectArn"].startswith("arn:aws-cn:")


def test_twelve_digit_access_key_is_the_account(fakerek):
    other = fakerek.client(account="111122223333")
    arn = other.create_project(ProjectName="p")["ProjectArn"]
    assert ":111122223333:project/p/" in arn
    assert fakerek.client().describe_projects()["ProjectDescriptions"] == []
    # a resource of another account is not found, even by its exact ARN
    with pytest.raises(ClientError) as excinfo:
        fakerek.client().delete_project(ProjectArn=arn)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"


def test_blobs_are_base64_decoded_and_measured_decoded():
    shape = service().operation("DetectCustomLabels").input_shape
    arn = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1"
    params = parse_input(shape, {"ProjectVersionArn": arn, "Image": {"Bytes": "aGVsbG8="}})
    assert params["Image"]["Bytes"] == b"hello"
    with pytest.raises(SerializationError, match="not valid base64"):
        parse_input(shape, {"ProjectVersionArn": arn, "Image": {"Bytes": "%%%"}})
    big = "A" * (((5 * 1024 * 1024) // 3 + 2) * 4)
    with pytest.raises(
        ValidationError,
        match=r"Value 'java.nio.HeapByteBuffer\[pos=0 lim=\d+ "
        r"cap=\d+\]' at 'image.bytes'",
    ):
        parse_input(shape, {"ProjectVersionArn": arn, "Image": {"Bytes": big}})


def test_java_character_classes_are_ascii():
    shape = service().operation("DeleteProject").input_shape
    arabic_digits = "arn:aws:rekognition:us-east-1:١٢٣٤٥٦٧٨٩٠١٢:project/p/1"
    with pytest.raises(ValidationError, match="regular expression"):
        parse_input(shape, {"ProjectArn": arabic_digits})


def test_responses_carry_only_json(fakerek):
    status, _, body = raw_call(
        fakerek.endpoint, TARGET + "ListTagsForResource", json.dumps({"ResourceArn": "x" * 20})
    )
    assert status == 400 and set(body) == {"__type", "Code", "Message", "Logref"}
