"""The application in-process: one ordered dispatch (control, Rekognition, S3), JSON errors
everywhere, reset over every part. Driven with Flask's test client on a temporary data dir."""

from __future__ import annotations

from conftest import call

from fakerek.app import create_app
from fakerek.config import Settings
from fakerek.domain import arns
from fakerek.web import services_of


def test_a_rekognition_call_in_process(client):
    status, created = call(client, "CreateProject", {"ProjectName": "p"})
    assert status == 200 and created["ProjectArn"].startswith("arn:aws:rekognition:us-east-1:")
    answer = client.post(
        "/",
        data="{}",
        headers={
            "X-Amz-Target": "RekognitionService.DescribeProjects",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert answer.headers["Server-Timing"].startswith("app;dur=")
    [project] = answer.get_json(force=True)["ProjectDescriptions"]
    assert project["ProjectArn"] == created["ProjectArn"]


def test_the_caller_scope_comes_from_the_signature(client):
    auth = (
        "AWS4-HMAC-SHA256 Credential=111122223333/20260101/eu-west-1/rekognition/"
        "aws4_request, SignedHeaders=host, Signature=0"
    )
    status, created = call(client, "CreateProject", {"ProjectName": "p"}, Authorization=auth)
    assert created["ProjectArn"].startswith("arn:aws:rekognition:eu-west-1:111122223333:")
    status, listed = call(client, "DescribeProjects")
    assert listed["ProjectDescriptions"] == []  # the default account and region see nothing


def test_control_errors_answer_json(client):
    missing = client.get("/_fakerek/nothing")
    assert missing.status_code == 404 and missing.is_json
    assert "/_fakerek/health" in missing.get_json()["error"]
    wrong = client.get("/_fakerek/reset")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert "POST" in wrong.get_json()["error"]
    bad = client.post("/_fakerek/config", json={"timing": "sometimes"})
    assert bad.status_code == 400 and "timing" in bad.get_json()["error"]


def test_rekognition_routing_errors_answer_aws_json(client):
    headers = {"X-Amz-Target": "RekognitionService.DescribeProjects"}
    for answer in (client.get("/", headers=headers), client.post("/other", headers=headers)):
        assert answer.status_code in (404, 405)
        assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
        assert answer.get_json(force=True)["__type"] == "UnknownOperationException"
        assert b"<html" not in answer.data.lower()


S3_SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/"
    "aws4_request, SignedHeaders=host, Signature=0"
}


def test_s3_is_the_fallback(client):
    assert client.put("/in-process-bucket", headers={"Host": "localhost"}).status_code == 200
    assert client.put("/in-process-bucket/k", data=b"bytes").status_code == 200
    assert client.get("/in-process-bucket/k", headers=S3_SIGNED).data == b"bytes"
    assert b"<Name>in-process-bucket</Name>" in client.get("/").data


def test_reset_empties_every_part(app, client):
    parts = services_of(app)
    call(client, "CreateProject", {"ProjectName": "p"})
    client.put("/reset-bucket")
    client.post("/_fakerek/config", json={"timing": "realistic"})
    client.post(
        "/_fakerek/faults", json={"operation": "CreateProject", "error": "ThrottlingException"}
    )
    client.post("/_fakerek/rules", json={"match": {"s3_key": "b/k"}, "labels": []})
    assert client.post("/_fakerek/reset", json={}).get_json() == {"status": "reset"}
    assert call(client, "DescribeProjects")[1]["ProjectDescriptions"] == []
    assert b"reset-bucket" not in client.get("/").data
    assert parts.config.snapshot().timing == "instant"
    assert parts.faults.list() == [] and parts.rules.list() == []


def test_every_creation_checks_the_tag_quota_copy_included(client):
    client.post("/_fakerek/config", json={"max_tags_per_resource": 1})
    project = "arn:aws:rekognition:us-east-1:123456789012:project/p/1"
    copy = {
        "SourceProjectArn": project,
        "SourceProjectVersionArn": project.replace("/1", "/version/v/1"),
        "DestinationProjectArn": project,
        "VersionName": "copy",
        "OutputConfig": {"S3Bucket": "out"},
        "Tags": {"a": "1", "b": "2"},
    }
    for operation, body in (
        ("CreateProject", {"ProjectName": "p", "Tags": {"a": "1", "b": "2"}}),
        ("CopyProjectVersion", copy),
    ):
        status, error = call(client, operation, body)
        assert (status, error["__type"]) == (400, "InvalidParameterException"), operation
        assert error["Message"] == "A resource can have at most 1 tags."


def test_closing_waits_for_transactions_under_way(tmp_path):
    import threading

    from fakerek.store.db import StoreClosed

    application = create_app(Settings(data_dir=str(tmp_path / "data")))
    parts = services_of(application)
    entered, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def busy() -> None:  # a background job in the middle of a transaction
        with parts.store.read() as conn:
            entered.set()
            release.wait(10)
            outcome.append(conn.execute("SELECT count(*) FROM projects").fetchone()[0])

    worker = threading.Thread(target=busy)
    worker.start()
    entered.wait(10)
    parts.close()  # must not pull the connection from under the job
    release.set()
    worker.join(10)
    assert outcome == [0]
    try:
        with parts.store.read():
            pass
    except StoreClosed:
        outcome.append("closed")
    assert outcome == [0, "closed"]
    services_of(create_app(Settings(data_dir=str(tmp_path / "data")))).close()  # released


def test_two_applications_in_one_process_keep_to_their_own_data(tmp_path):
    """Each application has its own S3 backend, store and graph cache: neither sees the other's
    buckets, objects or projects, and closing one leaves the other working."""
    first = create_app(Settings(data_dir=str(tmp_path / "first"), cache_dir=str(tmp_path / "c1")))
    second = create_app(Settings(data_dir=str(tmp_path / "second"), cache_dir=""))
    one, two = first.test_client(), second.test_client()
    try:
        assert one.put("/shared-name").status_code == 200
        assert one.put("/shared-name/k", data=b"first's").status_code == 200
        assert two.put("/shared-name").status_code == 200  # S3 names are not shared between them
        assert two.put("/shared-name/k", data=b"second's").status_code == 200
        assert one.put("/only-first").status_code == 200
        assert call(one, "CreateProject", {"ProjectName": "p1"})[0] == 200
        assert b"only-first" not in two.get("/").data
        assert two.get("/shared-name/k", headers=S3_SIGNED).data == b"second's"
        assert call(two, "DescribeProjects")[1]["ProjectDescriptions"] == []

        services_of(first).close()
        assert call(two, "CreateProject", {"ProjectName": "p2"})[0] == 200
        [project] = call(two, "DescribeProjects")[1]["ProjectDescriptions"]
        assert arns.of(project["ProjectArn"]).project == "p2"
        assert two.get("/shared-name/k", headers=S3_SIGNED).data == b"second's"
        assert two.put("/after-close").status_code == 200
    finally:
        services_of(first).close()
        services_of(second).close()
    reopened = create_app(Settings(data_dir=str(tmp_path / "first"), cache_dir=""))
    try:  # what the first one stored is still its own
        client = reopened.test_client()
        assert client.get("/shared-name/k", headers=S3_SIGNED).data == b"first's"
        names = [
            p["ProjectArn"] for p in call(client, "DescribeProjects")[1]["ProjectDescriptions"]
        ]
        assert [arns.of(name).project for name in names] == ["p1"]
    finally:
        services_of(reopened).close()
