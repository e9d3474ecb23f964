"""Bad input never answers a 5xx: the cases a reliability probe found, in process."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import call

from fakerek.api import pagination


@pytest.mark.parametrize("key", [2**70, -(2**70), 2**63])
def test_a_token_outside_sqlites_integers_is_an_invalid_token(client, key):
    token = pagination.encode("DescribeProjects", {}, key)
    status, error = call(client, "DescribeProjects", {"NextToken": token})
    assert (status, error["__type"]) == (400, "InvalidPaginationTokenException")


def test_a_deeply_nested_token_is_an_invalid_token(client):
    token = base64.urlsafe_b64encode(b"[" * 700 + b"]" * 700).decode()[:1024]
    status, error = call(client, "DescribeProjects", {"NextToken": token})
    assert (status, error["__type"]) == (400, "InvalidPaginationTokenException")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/_fakerek/faults", {"operation": []}),
        ("/_fakerek/faults", {"operation": {"a": 1}, "error": "ThrottlingException"}),
        ("/_fakerek/faults", {"training": {"code": []}}),
        ("/_fakerek/faults", {"training": {"code": {"x": 1}}}),
        ("/_fakerek/faults", {"units_lost": {"model": [], "units": 1, "seconds": 1}}),
        ("/_fakerek/faults", {"units_lost": {"model": "m", "units": 1, "seconds": 1e300}}),
        ("/_fakerek/clock", {"advance": 1e28}),
        ("/_fakerek/clock", {"advance": 10**400}),
        ("/_fakerek/config", {"delays": {"deleting": 1e16}}),
        ("/_fakerek/config", {"delays": {"deleting": 1e300}}),
        ("/_fakerek/config", {"max_body_bytes": 10**30}),
        ("/_fakerek/config", {"manifest_max_rows": 10**400}),
        ("/_fakerek/config", {"tps_per_inference_unit": 1e308}),
        ("/_fakerek/rules", {"match": {"sha256": []}, "labels": []}),
        (
            "/_fakerek/rules",
            {"match": {"s3_key": "b/k"}, "labels": [{"Name": "x", "Confidence": 10**400}]},
        ),
    ],
)
def test_control_bodies_of_the_wrong_type_or_size_answer_400(client, path, body):
    answer = client.post(path, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 400, answer.get_json()
    assert isinstance(answer.get_json()["error"], str)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_control_bodies_with_non_json_numbers_answer_400(client, literal):
    answer = client.post(
        "/_fakerek/clock", data=f'{{"advance": {literal}}}', content_type="application/json"
    )
    assert answer.status_code == 400 and "not valid JSON" in answer.get_json()["error"]


def test_a_huge_delay_cannot_break_later_deletions(client):
    assert (
        client.post(
            "/_fakerek/config", json={"timing": "realistic", "delays": {"deleting": 1e16}}
        ).status_code
        == 400
    )
    client.post("/_fakerek/config", json={"timing": "realistic", "delays": {"deleting": 1e9}})
    status, created = call(client, "CreateProject", {"ProjectName": "p"})
    status, deleted = call(client, "DeleteProject", {"ProjectArn": created["ProjectArn"]})
    assert (status, deleted) == (200, {"Status": "DELETING"})
    status, listed = call(client, "DescribeProjects")
    assert listed["ProjectDescriptions"][0]["Status"] == "DELETING"


def _image_line(name: str, label: str) -> dict:
    return {
        "source-ref": f"s3://lines/{name}",
        "x": 0,
        "x-metadata": {
            "class-name": label,
            "confidence": 1,
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "creation-date": "2024-01-01",
        },
    }


def test_one_hostile_line_is_kept_or_dropped_on_its_own(client):
    signed = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/"
        "aws4_request, SignedHeaders=host, Signature=0"
    }
    deep = _image_line("deep.jpg", "cat")
    nested: object = 1
    for _ in range(600):
        nested = [nested]
    deep["extra"] = {"more": nested}
    lines = [json.dumps(_image_line(f"{i}.jpg", "cat" if i % 2 else "dog")) for i in range(8)]
    lines.append(json.dumps(deep))
    lines.append(
        json.dumps(_image_line("nan.jpg", "cat")).replace('"confidence": 1', '"confidence": NaN')
    )
    client.put("/lines", headers=signed)
    client.put("/lines/m.manifest", data="\n".join(lines) + "\n", headers=signed)
    status, project = call(client, "CreateProject", {"ProjectName": "p"})
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": "lines", "Name": "m.manifest"}}}
    status, dataset = call(
        client,
        "CreateDataset",
        {"ProjectArn": project["ProjectArn"], "DatasetType": "TRAIN", "DatasetSource": source},
    )
    status, described = call(client, "DescribeDataset", {"DatasetArn": dataset["DatasetArn"]})
    description = described["DatasetDescription"]
    assert description["Status"] == "CREATE_COMPLETE", description
    assert description["DatasetStats"]["TotalEntries"] == 9  # the NaN line is dropped
    status, entries = call(
        client,
        "ListDatasetEntries",
        {"DatasetArn": dataset["DatasetArn"], "SourceRefContains": "deep"},
    )
    assert json.loads(entries["DatasetEntries"][0])["source-ref"] == "s3://lines/deep.jpg"
