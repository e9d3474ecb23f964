"""Issue 18 item 5: background work whose outcome cannot be stored ends failed in the same
process, as soon as the database can be written again; the health check says so meanwhile.

The fault is real and external to fakerek: the server process is given a file-size limit of one
byte (RLIMIT_FSIZE, set from this process with prlimit), so the kernel refuses every write past
a file's first byte (EFBIG), as a full disk or a quota refuses it (ENOSPC), and SQLite's commit
fails ("disk I/O error"). Raising the limit again ends the fault. To reach the job's own write
and not the request's, the test holds the database's write lock with a second SQLite connection
(as another process could) while the job works, and lets go once the limit is in place. Users'
objects live on a moto server (`--s3-endpoint-url`), so that a training's only write to the
database is its last one.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from images import scene
from manifests import BUCKET, image_line, manifest

from fakerek.store.db import DB_NAME
from fakerek.testing import FakerekServer

pytestmark = pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs Linux prlimit")
SERVICE_ISSUE = "Amazon Rekognition experienced a service issue."


@pytest.fixture
def server(tmp_path, moto_endpoint) -> Iterator[FakerekServer]:
    with FakerekServer(
        str(tmp_path / "data"), args=["--s3-endpoint-url", moto_endpoint]
    ) as running:
        running.configure(max_wait_seconds=0.2)  # reads do not wait long for a stuck job
        yield running


@pytest.fixture
def s3(server, moto_endpoint) -> Any:
    client = server.client("s3", endpoint_url=moto_endpoint)
    for bucket in (BUCKET, "out"):
        with suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
    return client


def _lines(s3, count: int, seed: int) -> list[dict]:
    shapes = ("circle", "square")
    lines = []
    for i in range(count):
        data, _ = scene(seed + i, [shapes[i % 2]])
        s3.put_object(Bucket=BUCKET, Key=f"{seed}/{i}.jpg", Body=data)
        lines.append(image_line(f"{seed}/{i}.jpg", shapes[i % 2]))
    return lines


def _health(server) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{server.endpoint}/_fakerek/health", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Disk:
    """The server's database, seen from outside: its write lock, and a full disk."""

    def __init__(self, server: FakerekServer):
        self.server = server
        self.db = sqlite3.connect(
            os.path.join(server.data_dir, DB_NAME), isolation_level=None, timeout=30
        )
        self.limits = resource.prlimit(server.pid, resource.RLIMIT_FSIZE)

    def hold(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def row(self, sql: str, *args: Any) -> Any:
        return self.db.execute(sql, args).fetchone()

    def fill(self) -> None:
        """Every write of the server past a file's first byte fails from now on."""
        resource.prlimit(self.server.pid, resource.RLIMIT_FSIZE, (1, self.limits[1]))

    def let_go(self) -> None:
        self.db.execute("ROLLBACK")

    def free(self) -> None:
        resource.prlimit(self.server.pid, resource.RLIMIT_FSIZE, self.limits)

    @contextmanager
    def full_while(self, reached: Callable[[], bool]) -> Iterator[None]:
        """With the lock held: once `reached()`, fill the disk and let go of the lock; the
        server's next write fails. The block runs with the disk full; it is freed after."""
        try:
            _until(reached, "the job to reach its write")
            self.fill()
            self.let_go()
            status, health = _until(
                lambda: (found := _health(self.server))[0] == 503 and found,
                "the health check to report the failed write",
            )
            assert health["status"] == "degraded"
            assert "the database cannot be written" in health["problem"]
            yield
        finally:
            self.free()
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")


def _held_while_pending(disk: Disk, start: Callable[[int], str], pending: str) -> str:
    """Start work (`start(attempt)` returns its ARN) and take the database's write lock before
    the work writes (`pending`: SQL that finds its row still in progress); a job that won the
    race is started again."""
    for attempt in range(5):
        arn = start(attempt)
        disk.hold()
        if disk.row(pending, arn) is not None:
            return arn
        disk.let_go()
    raise AssertionError("the job always finished before the test could hold the lock")


def test_a_training_that_cannot_record_its_success_ends_failed(server, s3):
    s3.put_object(Bucket=BUCKET, Key="train.manifest", Body=manifest(_lines(s3, 30, 0)))
    s3.put_object(Bucket=BUCKET, Key="test.manifest", Body=manifest(_lines(s3, 10, 100)))
    client = server.client()
    project = client.create_project(ProjectName="p")["ProjectArn"]
    pid = server.pid

    def asset(key: str) -> dict:
        return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}}]}

    def start(attempt: int) -> str:
        return client.create_project_version(
            ProjectArn=project,
            VersionName=f"v{attempt}",
            OutputConfig={"S3Bucket": "out", "S3KeyPrefix": f"v{attempt}"},
            TrainingData=asset("train.manifest"),
            TestingData=asset("test.manifest"),
        )["ProjectVersionArn"]

    disk = Disk(server)
    arn = _held_while_pending(
        disk, start, "SELECT id FROM versions WHERE arn = ? AND outcome IS NULL"
    )
    version_id = disk.row("SELECT id FROM versions WHERE arn = ?", arn)[0]
    model = os.path.join(server.data_dir, "models", str(version_id))
    name = arn.split("/")[3]
    with disk.full_while(lambda: os.path.exists(os.path.join(model, "model.json"))):
        [found] = client.describe_project_versions(ProjectArn=project, VersionNames=[name])[
            "ProjectVersionDescriptions"
        ]
        assert found["Status"] == "TRAINING_IN_PROGRESS"  # reads still answer
    found = _until(
        lambda: [
            v
            for v in client.describe_project_versions(ProjectArn=project, VersionNames=[name])[
                "ProjectVersionDescriptions"
            ]
            if v["Status"] != "TRAINING_IN_PROGRESS"
        ],
        "the training to end",
    )[0]
    assert (found["Status"], found["StatusMessage"]) == ("TRAINING_FAILED", SERVICE_ISSUE)
    assert "EvaluationResult" not in found and "TrainingEndTimestamp" in found
    assert not os.path.exists(model)  # a failed training keeps no model
    assert server.pid == pid and _health(server)[0] == 200
    assert "the training of" in server.log() and "is marked failed" in server.log()
    assert "Traceback" not in server.log()


def test_an_import_and_an_update_that_cannot_be_stored_end_failed(server, s3):
    lines = _lines(s3, 40, 200)
    s3.put_object(Bucket=BUCKET, Key="all.manifest", Body=manifest(lines))
    client = server.client()
    pending_dataset = "SELECT id FROM datasets WHERE arn = ? AND outcome IS NULL"
    disk = Disk(server)

    def create(attempt: int) -> str:
        project = client.create_project(ProjectName=f"p{attempt}")["ProjectArn"]
        return client.create_dataset(
            ProjectArn=project,
            DatasetType="TRAIN",
            DatasetSource={
                "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "all.manifest"}}
            },
        )["DatasetArn"]

    created = _held_while_pending(disk, create, pending_dataset)
    with disk.full_while(lambda: True):
        pass
    found = _until(
        lambda: (
            (d := client.describe_dataset(DatasetArn=created)["DatasetDescription"])["Status"]
            != "CREATE_IN_PROGRESS"
            and d
        ),
        "the import to end",
    )
    assert (found["Status"], found["StatusMessage"]) == ("CREATE_FAILED", SERVICE_ISSUE)
    assert found["StatusMessageCode"] == "SERVICE_ERROR"

    imported = create(9)
    _until(
        lambda: (
            client.describe_dataset(DatasetArn=imported)["DatasetDescription"]["Status"]
            == "CREATE_COMPLETE"
        ),
        "the import to complete",
    )
    totals: list[int] = []

    def update(attempt: int) -> str:
        described = client.describe_dataset(DatasetArn=imported)["DatasetDescription"]
        totals.append(described["DatasetStats"]["TotalEntries"])
        many = manifest([image_line(f"more{attempt}/{i}.jpg", "circle") for i in range(4000)])
        client.update_dataset_entries(DatasetArn=imported, Changes={"GroundTruth": many.encode()})
        return imported

    _held_while_pending(disk, update, pending_dataset)
    with disk.full_while(lambda: True):
        pass
    found = _until(
        lambda: (
            (d := client.describe_dataset(DatasetArn=imported)["DatasetDescription"])["Status"]
            != "UPDATE_IN_PROGRESS"
            and d
        ),
        "the update to end",
    )
    assert (found["Status"], found["StatusMessage"]) == ("UPDATE_FAILED", SERVICE_ISSUE)
    assert found["DatasetStats"]["TotalEntries"] == totals[-1]  # the merge was not applied
    log = server.log()
    assert "the import into dataset" in log and "the update of dataset" in log
    assert log.count("is marked failed") == 2 and "Traceback" not in log
