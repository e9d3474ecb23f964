"""Defects a black-box hunt through the API found: each test is one, as a client meets it."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest
from conftest import raw_call
from images import SHAPES, scene
from manifests import BUCKET, image_line

LONE_SURROGATE = "\\udc80"  # a JSON escape that decodes to no Unicode character


def _json_with(escape: str, template: str) -> str:
    return template.replace("@", escape)


@pytest.mark.parametrize(
    "operation, template",
    [
        ("CreateProject", '{"ProjectName": "p", "Tags": {"k": "@"}}'),
        ("CreateProject", '{"ProjectName": "@"}'),
        ("DescribeProjects", '{"NextToken": "@"}'),
    ],
)
def test_a_lone_surrogate_escape_is_a_serialization_error_not_a_500(client, operation, template):
    answer = client.post(
        "/",
        data=_json_with(LONE_SURROGATE, template),
        headers={
            "X-Amz-Target": f"RekognitionService.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert answer.status_code == 400
    assert answer.get_json(force=True)["__type"] == "SerializationException"


def test_a_lone_surrogate_in_an_unpatterned_member_is_not_stored(fakerek, project):
    """S3KeyPrefix has no pattern: the version was created and then broke every
    DescribeProjectVersions of its project with a 500."""
    body = _json_with(
        LONE_SURROGATE,
        json.dumps(
            {
                "ProjectArn": project,
                "VersionName": "v1",
                "OutputConfig": {"S3Bucket": "out", "S3KeyPrefix": "PREFIX"},
            }
        ).replace("PREFIX", "a@"),
    )
    status, _, error = raw_call(fakerek.endpoint, "RekognitionService.CreateProjectVersion", body)
    assert (status, error["__type"]) == (400, "SerializationException")
    versions = fakerek.client().describe_project_versions(ProjectArn=project)
    assert versions["ProjectVersionDescriptions"] == []


def test_a_surrogate_pair_escape_is_still_one_character(client):
    answer = client.post(
        "/",
        data='{"ProjectName": "p", "Tags": {"k": "\\ud83d\\ude00"}}',
        headers={
            "X-Amz-Target": "RekognitionService.CreateProject",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    # a real character (an emoji): checked against the tag value pattern, not refused as JSON
    assert answer.get_json(force=True)["__type"] == "ValidationException"


@pytest.mark.parametrize(
    "path, template",
    [
        ("/_fakerek/config", '{"s3_denied_buckets": "@"}'),
        ("/_fakerek/rules", '{"match": {"s3_key": "b/@"}, "labels": []}'),
        (
            "/_fakerek/faults",
            '{"operation": "CreateProject", "error": "ThrottlingException", "message": "@"}',
        ),
    ],
)
def test_control_bodies_with_a_lone_surrogate_answer_400_and_change_nothing(client, path, template):
    before = {
        p: client.get(p).get_json()
        for p in ("/_fakerek/config", "/_fakerek/rules", "/_fakerek/faults")
    }
    answer = client.post(
        path, data=_json_with(LONE_SURROGATE, template), content_type="application/json"
    )
    assert answer.status_code == 400, answer.get_json()
    assert {p: client.get(p).get_json() for p in before} == before


# -- the embedded S3 ------------------------------------------------------------------------------


def _s3_request(endpoint: str, method: str, path: str) -> tuple[int, bytes]:
    host = urllib.parse.urlparse(endpoint)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    try:
        connection.request(method, path, body=b"hello" if method == "PUT" else None)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("raw_key", ["bad%FFkey.jpg", "cut%C3.jpg", "surrogate%ED%B2%80.jpg"])
def test_a_key_that_is_not_utf8_is_an_invalid_uri_and_nothing_is_kept(fakerek, raw_key):
    """S3 answers 400 InvalidURI; fakerek answered 500 InternalError, yet the object showed up
    in listings (moto kept it, the index could not) until the next restart dropped it."""
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket="keys")
    for method in ("PUT", "GET", "HEAD", "DELETE"):
        status, body = _s3_request(fakerek.endpoint, method, f"/keys/{raw_key}")
        assert status == 400, (method, body)
        if method != "HEAD":
            assert b"<Code>InvalidURI</Code>" in body
    assert s3.list_objects_v2(Bucket="keys")["KeyCount"] == 0


# -- numbers -------------------------------------------------------------------------------------


def _post(client, operation: str, body: str) -> tuple[int, dict]:
    answer = client.post(
        "/",
        data=body,
        headers={
            "X-Amz-Target": f"RekognitionService.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    return answer.status_code, answer.get_json(force=True)


@pytest.mark.parametrize("number", ["1" + "0" * 400, "-" + "1" + "0" * 400])
def test_a_float_member_given_an_integer_beyond_any_float_is_a_400_not_a_500(client, number):
    """float(10**400) raised OverflowError: a 500. 1e400 (the same number as a JSON float)
    already answered the range ValidationException; the integer spelling answers it too."""
    arn = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1"
    body = (
        f'{{"ProjectVersionArn": "{arn}", "Image": {{"Bytes": "AAAA"}}, "MinConfidence": {number}}}'
    )
    as_integer = _post(client, "DetectCustomLabels", body)
    as_float = _post(client, "DetectCustomLabels", body.replace(number, number[:2] + "e400"))
    assert as_integer[0] == as_float[0] == 400
    assert as_integer[1]["__type"] == as_float[1]["__type"] == "ValidationException"
    assert as_integer[1]["Message"] == as_float[1]["Message"]


# -- manifests -----------------------------------------------------------------------------------


def _import(client, s3, project: str, kind: str, bad: str) -> tuple:
    """A dataset imported from a manifest of nine good lines and `bad`: its status and
    entries."""
    good = "".join(json.dumps(image_line(f"a{i}.jpg", "cat")) + "\n" for i in range(9))
    s3.put_object(Bucket=BUCKET, Key=f"{kind}.manifest", Body=f"{good}{bad}\n".encode())
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": f"{kind}.manifest"}}}
    arn = client.create_dataset(ProjectArn=project, DatasetType=kind, DatasetSource=source)[
        "DatasetArn"
    ]
    described = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
    entries = client.list_dataset_entries(DatasetArn=arn)["DatasetEntries"]
    return described["Status"], described.get("StatusMessage"), entries


def test_a_manifest_line_with_a_lone_surrogate_escape_is_an_invalid_json_line(fakerek, project):
    """Python decodes "\\udc80" to a str that SQLite cannot store: the import failed with a
    logged traceback ('service error') where an unreadable line only skips itself."""
    client, s3 = fakerek.client(), fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for i in range(9):
        s3.put_object(Bucket=BUCKET, Key=f"a{i}.jpg", Body=scene(i, [SHAPES[0]])[0])
    surrogate = _json_with(LONE_SURROGATE, json.dumps(image_line("b.jpg", "x@")))
    assert _import(client, s3, project, "TRAIN", surrogate) == _import(
        client, s3, project, "TEST", "not json"
    )
