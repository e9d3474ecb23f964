"""State on disk: restarts, SIGKILL at any moment, concurrent clients, one server per data dir."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError
from conftest import POLICY


def test_everything_survives_a_restart(own_server):
    client = own_server.client()
    arn = client.create_project(ProjectName="keep", Tags={"team": "vision"})["ProjectArn"]
    revision = client.put_project_policy(
        ProjectArn=arn,
        PolicyName="copy",
        PolicyDocument=json.dumps(POLICY).replace("project/proj/", "project/keep/"),
    )["PolicyRevisionId"]
    before = client.describe_projects()["ProjectDescriptions"]
    assert own_server.stop() == 0
    own_server.start()
    client = own_server.client()
    assert client.describe_projects()["ProjectDescriptions"] == before
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "vision"}
    [policy] = client.list_project_policies(ProjectArn=arn)["ProjectPolicies"]
    assert policy["PolicyRevisionId"] == revision
    # the ARN clock is stored too: later creations never reuse a millisecond
    later = client.create_project(ProjectName="later")["ProjectArn"]
    assert int(later.rsplit("/", 1)[1]) > int(arn.rsplit("/", 1)[1])


def test_a_deletion_in_progress_survives_a_restart(own_server):
    own_server.configure(timing="realistic", delays={"deleting": 120})
    client = own_server.client()
    arn = client.create_project(ProjectName="going")["ProjectArn"]
    client.delete_project(ProjectArn=arn)
    own_server.restart()  # back to instant timing; the stored end time still holds
    [project] = own_server.client().describe_projects()["ProjectDescriptions"]
    assert project["Status"] == "DELETING"


def test_sigkill_loses_nothing_acknowledged_and_shows_nothing_half_written(own_server):
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker: int) -> None:
        client = own_server.client()
        for i in range(10_000):
            if stop.is_set():
                return
            name = f"w{worker}-{i}"
            try:
                client.create_project(
                    ProjectName=name, Tags={"name": name, **{f"k{j}": "v" for j in range(20)}}
                )
            except Exception:  # the server died under us: that request was never acknowledged
                return
            with lock:
                acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    # kill mid-stream once enough writes were acknowledged (not after a fixed time: on a loaded
    # machine one second held none)
    deadline = time.monotonic() + 60
    while len(acknowledged) <= 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    own_server.kill()
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(acknowledged) > 10
    own_server.start()
    client = own_server.client()
    pages = client.get_paginator("describe_projects").paginate()
    stored = {
        p["ProjectArn"].split("/")[1]: p["ProjectArn"]
        for page in pages
        for p in page["ProjectDescriptions"]
    }
    assert set(acknowledged) <= set(stored)
    for name, arn in stored.items():
        tags = client.list_tags_for_resource(ResourceArn=arn)["Tags"]
        assert tags == {"name": name, **{f"k{j}": "v" for j in range(20)}}


def race(count: int, call) -> list[str]:
    """Run `call(i)` in `count` threads released at once; each outcome is "ok" or an error code."""
    barrier = threading.Barrier(count)
    outcomes: list[str] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            call(i)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)


@pytest.fixture
def shared_client(fakerek):
    """One client for many threads: boto3 clients are thread-safe."""
    return fakerek.client(config_options={"max_pool_connections": 20})


def test_twenty_racing_creators_one_winner(fakerek, shared_client):
    outcomes = race(20, lambda i: shared_client.create_project(ProjectName="race"))
    assert outcomes == ["ResourceInUseException"] * 19 + ["ok"]
    assert len(shared_client.describe_projects()["ProjectDescriptions"]) == 1


def test_parallel_updates_are_not_lost(shared_client, project):
    outcomes = race(
        20, lambda i: shared_client.tag_resource(ResourceArn=project, Tags={f"key{i}": str(i)})
    )
    assert outcomes == ["ok"] * 20
    tags = shared_client.list_tags_for_resource(ResourceArn=project)["Tags"]
    assert tags == {f"key{i}": str(i) for i in range(20)}


def test_racing_policy_updates_with_one_revision_one_winner(shared_client, project):
    document = json.dumps(POLICY)
    revision = shared_client.put_project_policy(
        ProjectArn=project, PolicyName="p", PolicyDocument=document
    )["PolicyRevisionId"]
    outcomes = race(
        10,
        lambda i: shared_client.put_project_policy(
            ProjectArn=project, PolicyName="p", PolicyDocument=document, PolicyRevisionId=revision
        ),
    )
    assert outcomes == ["InvalidPolicyRevisionIdException"] * 9 + ["ok"]


def test_a_second_server_on_the_same_data_dir_is_refused(own_server):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fakerek",
            "serve",
            "--port",
            "0",
            "--data-dir",
            own_server.data_dir,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "in use by another fakerek server" in result.stderr


def test_a_newer_schema_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "fakerek.sqlite3") as conn:
        conn.execute("PRAGMA user_version = 999")
    result = subprocess.run(
        [sys.executable, "-m", "fakerek", "serve", "--port", "0", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "schema version 999" in result.stderr


def test_sigterm_stops_cleanly(own_server):
    own_server.client().create_project(ProjectName="p")
    assert own_server.stop() == 0
    assert "fakerek stopped" in own_server.log()
    assert "Traceback" not in own_server.log()
