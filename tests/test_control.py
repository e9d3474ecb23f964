"""The control API: health, config, faults, reset."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from conftest import error_of

from fakerek import __version__


def http(server, method, path, body=None):
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(server.endpoint + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")  # what the control API takes
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health(fakerek):
    assert http(fakerek, "GET", "/_fakerek/health") == (
        200,
        {"status": "ok", "version": __version__},
    )


def test_config_changes_only_named_keys(fakerek):
    before = fakerek.control("GET", "config")
    assert before["timing"] == "instant"
    assert set(before["delays"]) == {
        "training",
        "starting",
        "stopping",
        "deleting",
        "dataset",
        "copying",
    }
    after = fakerek.configure(delays={"training": 2.5})
    assert after["delays"]["training"] == 2.5
    assert after["delays"]["starting"] == before["delays"]["starting"]
    assert after["timing"] == "instant"
    assert fakerek.control("GET", "config") == after


@pytest.mark.parametrize(
    "body, fragment",
    [
        ('{"timing": "slow"}', "not one of instant, realistic"),
        ('{"delays": {"training": -1}}', "must be >= 0"),
        ('{"delays": {"lunch": 1}}', "unknown key 'lunch'"),
        ('{"delays": 3}', "must be an object"),
        ('{"port": 1}', "start-up-only"),
        ('{"max_projects": "many"}', "not a valid int"),
        ("[]", "must be a JSON object"),
        ("{oops", "not valid JSON"),
    ],
)
def test_bad_config_changes_nothing(fakerek, body, fragment):
    before = fakerek.control("GET", "config")
    status, answer = http(fakerek, "POST", "/_fakerek/config", body)
    assert status == 400 and fragment in answer["error"]
    assert fakerek.control("GET", "config") == before


def test_fault_fails_the_next_n_calls(fakerek, rekognition):
    fakerek.inject_fault("DescribeProjects", "InvalidParameterException", message="boom", count=2)
    assert fakerek.control("GET", "faults")["faults"][0]["count"] == 2
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            rekognition.describe_projects()
        assert error_of(excinfo) == {
            "Code": "InvalidParameterException",
            "Message": "boom",
            "Status": 400,
        }
    assert rekognition.describe_projects()["ProjectDescriptions"] == []
    assert fakerek.control("GET", "faults") == {"faults": []}


def test_server_faults_are_500_and_retried_by_default_clients(fakerek):
    fakerek.inject_fault("CreateProject", "InternalServerError")
    with pytest.raises(ClientError) as excinfo:
        fakerek.client().create_project(ProjectName="p")
    error = error_of(excinfo)
    assert (error["Code"], error["Status"]) == ("InternalServerError", 500)
    assert error["Message"]
    fakerek.inject_fault("CreateProject", "ThrottlingException", count=2)
    retrying = fakerek.client(max_attempts=3)
    response = retrying.create_project(ProjectName="p")
    assert response["ResponseMetadata"]["RetryAttempts"] == 2


def test_fault_errors_must_be_modeled_for_the_operation(fakerek):
    status, answer = http(
        fakerek,
        "POST",
        "/_fakerek/faults",
        json.dumps({"operation": "DescribeProjects", "error": "ResourceInUseException"}),
    )
    assert status == 400 and "cannot answer 'ResourceInUseException'" in answer["error"]
    status, answer = http(
        fakerek,
        "POST",
        "/_fakerek/faults",
        json.dumps({"operation": "DetectLabels", "error": "Throttling"}),
    )
    assert status == 400 and "Custom Labels operation" in answer["error"]
    status, answer = http(
        fakerek,
        "POST",
        "/_fakerek/faults",
        json.dumps({"operation": "CreateProject", "error": "ThrottlingException", "count": 0}),
    )
    assert status == 400 and "count" in answer["error"]
    assert fakerek.control("GET", "faults") == {"faults": []}


def test_delete_clears_faults(fakerek, rekognition):
    fakerek.inject_fault("DescribeProjects", "AccessDeniedException")
    assert http(fakerek, "DELETE", "/_fakerek/faults") == (200, {"faults": []})
    rekognition.describe_projects()


def test_reset_forgets_everything(fakerek):
    fakerek.client().create_project(ProjectName="p", Tags={"a": "b"})
    fakerek.client(account="210987654321", region="eu-west-1").create_project(ProjectName="p")
    fakerek.configure(timing="realistic", max_projects=1)
    fakerek.inject_fault("DescribeProjects", "ThrottlingException")
    fakerek.reset()
    assert fakerek.control("GET", "faults") == {"faults": []}
    assert fakerek.control("GET", "config")["timing"] == "instant"
    assert fakerek.client().describe_projects()["ProjectDescriptions"] == []
    other = fakerek.client(account="210987654321", region="eu-west-1")
    assert other.describe_projects()["ProjectDescriptions"] == []


def test_unknown_endpoint_and_method(fakerek):
    status, answer = http(fakerek, "GET", "/_fakerek/nothing")
    assert status == 404 and "/_fakerek/health" in answer["error"]
    status, answer = http(fakerek, "GET", "/_fakerek/reset")
    assert status == 405 and "POST" in answer["error"]
