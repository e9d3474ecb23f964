"""One clock: with realistic timing, a frozen clock holds every intermediate status however long
the work behind it takes, and advancing it by a delay ends that status, with timestamps, billed
time, autoscaling and usage hours read from the same clock (`/_fakerek/clock`, the plugin's
`freeze` and `advance`)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError
from conftest import error_of
from images import SHAPES, scene
from manifests import BUCKET, image_line, project_from

OUT = "results"
TRAINING = 2  # seconds of the training delay: less than its compute takes here
SHORT = 1  # seconds of every other delay


@pytest.fixture
def s3(fakerek):
    client = fakerek.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.create_bucket(Bucket=OUT)
    return client


def _lines(s3, name: str) -> list:
    lines = []
    for i in range(24):
        data, _ = scene(500 + i, [SHAPES[i % 3]])
        s3.put_object(Bucket=BUCKET, Key=f"{name}{i}.jpg", Body=data)
        lines.append(image_line(f"{name}{i}.jpg", SHAPES[i % 3]))
    return lines


def _version(client, project: str) -> dict:
    found = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    return found[0] if found else {}


def _dataset(client, project_name: str) -> dict:
    [project] = client.describe_projects(ProjectNames=[project_name])["ProjectDescriptions"]
    return project["Datasets"][0] if project["Datasets"] else {}


def _held(read, status: str, delay: float) -> None:
    """`status` still shows after more wall time than its delay has passed."""
    assert read()["Status"] == status
    time.sleep(delay + 0.3)
    assert read()["Status"] == status


def _close(moment, seconds: float) -> bool:
    return abs(moment.timestamp() - seconds) < 0.002  # the wire carries milliseconds


def _training_written(s3) -> None:
    """Wait (wall time) until the training's last artefact is in its output bucket: its
    compute is over, only its status is left to change."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=OUT).get("Contents", [])]
        if any(key.startswith("TestingGroundTruth") for key in keys):
            time.sleep(1.0)  # the model's files and the outcome follow at once
            return
        time.sleep(0.2)
    raise AssertionError("the training wrote no TestingGroundTruth")


def test_a_frozen_clock_holds_each_status_until_advanced(fakerek, s3):
    client = fakerek.client()
    lines = _lines(s3, "clocked")
    fakerek.configure(
        timing="realistic",
        delays={
            "dataset": SHORT,
            "training": TRAINING,
            "starting": SHORT,
            "stopping": SHORT,
            "deleting": SHORT,
        },
    )
    t0 = fakerek.freeze()
    project = project_from(client, s3, "clocked", lines)
    [described] = client.describe_projects()["ProjectDescriptions"]
    assert _close(described["CreationTimestamp"], t0)

    def dataset() -> dict:
        return _dataset(client, "clocked")

    _held(dataset, "CREATE_IN_PROGRESS", SHORT)
    t1 = fakerek.advance(SHORT)
    assert t1 == pytest.approx(t0 + SHORT, abs=1e-3)
    assert dataset()["Status"] == "CREATE_COMPLETE"
    [train] = client.describe_projects()["ProjectDescriptions"][0]["Datasets"]
    description = client.describe_dataset(DatasetArn=train["DatasetArn"])["DatasetDescription"]
    assert description["DatasetStats"]["TotalEntries"] == 24
    assert _close(description["LastUpdatedTimestamp"], t1)

    version = client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": OUT}
    )["ProjectVersionArn"]
    _training_written(s3)
    _held(lambda: _version(client, project), "TRAINING_IN_PROGRESS", TRAINING)
    assert "EvaluationResult" not in _version(client, project)
    fakerek.advance(TRAINING - 0.5)
    assert _version(client, project)["Status"] == "TRAINING_IN_PROGRESS"
    t2 = fakerek.advance(0.5)
    trained = _version(client, project)
    assert trained["Status"] == "TRAINING_COMPLETED"
    assert _close(trained["CreationTimestamp"], t1)
    assert _close(trained["TrainingEndTimestamp"], t2)  # not when its compute ended
    assert trained["BillableTrainingTimeInSeconds"] == TRAINING
    assert "EvaluationResult" in trained

    assert client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)[
        "Status"
    ] == ("STARTING")
    _held(lambda: _version(client, project), "STARTING", SHORT)
    fakerek.advance(SHORT)
    assert _version(client, project)["Status"] == "RUNNING"

    assert client.stop_project_version(ProjectVersionArn=version)["Status"] == "STOPPING"
    _held(lambda: _version(client, project), "STOPPING", SHORT)
    fakerek.advance(SHORT)
    assert _version(client, project)["Status"] == "STOPPED"

    assert client.delete_project_version(ProjectVersionArn=version)["Status"] == "DELETING"
    _held(lambda: _version(client, project), "DELETING", SHORT)
    fakerek.advance(SHORT)
    assert _version(client, project) == {}

    client.delete_dataset(DatasetArn=train["DatasetArn"])
    _held(dataset, "DELETE_IN_PROGRESS", SHORT)
    fakerek.advance(SHORT)
    with pytest.raises(ClientError) as excinfo:
        client.describe_dataset(DatasetArn=train["DatasetArn"])
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"

    assert client.delete_project(ProjectArn=project)["Status"] == "DELETING"
    _held(lambda: client.describe_projects()["ProjectDescriptions"][0], "DELETING", SHORT)
    fakerek.advance(SHORT)
    assert client.describe_projects()["ProjectDescriptions"] == []


def test_a_reset_returns_the_clock_and_creation_times_to_wall_time(fakerek):
    client = fakerek.client()
    fakerek.freeze()
    ahead = fakerek.advance(3600)
    client.create_project(ProjectName="ahead")
    [project] = client.describe_projects()["ProjectDescriptions"]
    assert _close(project["CreationTimestamp"], ahead)
    fakerek.reset()
    client.create_project(ProjectName="now")
    [project] = client.describe_projects()["ProjectDescriptions"]
    assert abs(project["CreationTimestamp"].timestamp() - time.time()) < 60


def test_autoscaling_and_usage_hours_follow_the_same_clock(fakerek, s3):
    client = fakerek.client()
    project = project_from(client, s3, "scaled", _lines(s3, "scaled"))
    version = client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": OUT}
    )["ProjectVersionArn"]
    assert _version(client, project)["Status"] == "TRAINING_COMPLETED"  # instant timing
    fakerek.configure(
        timing="realistic",
        delays={"starting": 600},
        tps_per_inference_unit=2,
        autoscale_delay_seconds=60,
        autoscale_idle_seconds=300,
    )
    image, _ = scene(7700, ["circle"])

    def call() -> str:
        try:
            client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})
            return "ok"
        except ClientError as error:
            return error.response["Error"]["Code"]

    def usage() -> dict:
        [model] = fakerek.control("GET", f"usage?model={version}")["models"]
        return model

    fakerek.freeze()
    client.start_project_version(
        ProjectVersionArn=version, MinInferenceUnits=1, MaxInferenceUnits=2
    )
    assert call() == "ResourceNotReadyException"  # STARTING
    fakerek.advance(600)  # the start's delay: RUNNING, and ten minutes on one unit
    assert _version(client, project)["Status"] == "RUNNING"
    assert (usage()["RunningHours"], usage()["InferenceUnitHours"]) == (0.166667, 0.166667)

    assert [call() for _ in range(3)] == ["ok", "ok", "ProvisionedThroughputExceededException"]
    assert (usage()["DesiredInferenceUnits"], usage()["InServiceInferenceUnits"]) == (2, 1)
    fakerek.advance(60)  # the scaling step lands
    assert (usage()["DesiredInferenceUnits"], usage()["InServiceInferenceUnits"]) == (2, 2)
    fakerek.advance(3600)  # an hour on two units, idle
    assert (usage()["RunningHours"], usage()["InferenceUnitHours"]) == (1.183333, 2.183333)
    assert call() == "ok"  # idle for longer than autoscale_idle_seconds: one unit less
    assert (usage()["DesiredInferenceUnits"], usage()["InServiceInferenceUnits"]) == (1, 2)
    fakerek.advance(60)
    final = usage()
    assert (final["DesiredInferenceUnits"], final["InServiceInferenceUnits"]) == (1, 1)
    assert (final["InferenceUnitHours"], final["Requests"], final["ThrottledRequests"]) == (
        2.216667,
        3,
        1,
    )


def test_a_trainings_artefacts_are_dated_by_the_same_clock(fakerek, s3):
    """The evaluation summary's end time and the snapshots' creation dates are the server's
    clock's, as the version's timestamps are: a day ahead when the test moved it so."""
    client = fakerek.client()
    lines = _lines(s3, "dated")
    fakerek.freeze()
    now = fakerek.advance(86400)
    project = project_from(client, s3, "dated", lines)
    client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": OUT}
    )
    version = _version(client, project)  # instant timing: trained
    assert _close(version["TrainingEndTimestamp"], now)

    def read(location: dict) -> str:
        found = location["S3Object"]
        return s3.get_object(Bucket=found["Bucket"], Key=found["Name"])["Body"].read().decode()

    def seconds(stamp: str) -> float:
        return (
            dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.UTC).timestamp()
        )

    summary = json.loads(read(version["EvaluationResult"]["Summary"]))
    assert abs(seconds(summary["EvaluationDetails"]["EvaluationEndTimestamp"]) - now) < 0.002
    tested = read(version["TestingDataResult"]["Output"]["Assets"][0]["GroundTruthManifest"])
    dates = {
        value["creation-date"]
        for line in tested.splitlines()
        for value in json.loads(line).values()
        if isinstance(value, dict) and "creation-date" in value
    }
    assert dates and all(abs(seconds(date) - now) < 0.002 for date in dates)


def test_a_restart_does_not_take_the_clock_back(own_server):
    """A server restarted after its clock was advanced runs on from where it stood: what a read
    showed before the restart (a dataset CREATE_COMPLETE, in instant timing too) still shows,
    and creation times keep their order."""
    server = own_server
    client = server.client()
    server.freeze()
    ahead = server.advance(3600)
    project = client.create_project(ProjectName="ahead")["ProjectArn"]
    instant = client.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    server.configure(timing="realistic", delays={"dataset": 600})
    later = client.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    assert client.describe_dataset(DatasetArn=later)["DatasetDescription"]["Status"] == (
        "CREATE_IN_PROGRESS"
    )
    server.advance(600)
    for arn in (instant, later):
        assert client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"] == (
            "CREATE_COMPLETE"
        )
    server.restart()
    client = server.client()
    for arn in (instant, later):
        found = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
        assert found["Status"] == "CREATE_COMPLETE", arn
    client.create_project(ProjectName="after")
    times = {
        p["ProjectArn"].split("/")[1]: p["CreationTimestamp"].timestamp()
        for p in client.describe_projects()["ProjectDescriptions"]
    }
    assert abs(times["ahead"] - ahead) < 0.002
    assert times["after"] >= ahead + 600
