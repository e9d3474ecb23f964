"""Running models: Start/Stop, DetectCustomLabels (labels, boxes, filters, image errors), rules."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from botocore.exceptions import ClientError
from conftest import error_of
from images import SHAPES, scene
from manifests import BUCKET, box_line, image_line, project_from
from PIL import Image

from fakerek.testing import FakerekServer


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 20, 200)).save(out, "PNG")
    return out.getvalue()


def _train(client, s3, name: str, lines: list) -> tuple[str, str]:
    project = project_from(client, s3, name, lines)
    version = client.create_project_version(
        ProjectArn=project,
        VersionName="v1",
        OutputConfig={"S3Bucket": "out"},
        VersionDescription=f"{name}, first try",
    )["ProjectVersionArn"]
    return project, version


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """One server with a trained classifier and a trained detector, both running."""
    with FakerekServer(str(tmp_path_factory.mktemp("running"))) as server:
        client, s3 = server.client(), server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket="out")
        classes = []
        for i in range(30):
            data, _ = scene(100 + i, [SHAPES[i % 3]])
            s3.put_object(Bucket=BUCKET, Key=f"c{i}.jpg", Body=data)
            classes.append(image_line(f"c{i}.jpg", SHAPES[i % 3]))
        boxes = []
        for i in range(40):
            data, found = scene(
                2000 + i, [SHAPES[(i + k) % 3] for k in range(1 + i % 2)], size=(320, 240)
            )
            s3.put_object(Bucket=BUCKET, Key=f"b{i}.jpg", Body=data)
            boxes.append(
                box_line(
                    f"b{i}.jpg",
                    [(label, (b[0], b[1], b[2] - b[0], b[3] - b[1])) for label, b in found],
                    size=(320, 240),
                )
            )
        classifier = _train(client, s3, "shapes", classes)
        detector = _train(client, s3, "boxes", boxes)
        for _, version in (classifier, detector):
            client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
        yield {
            "server": server,
            "client": client,
            "s3": s3,
            "classifier": classifier,
            "detector": detector,
        }


def test_running_after_start(models):
    client = models["client"]
    project, version = models["classifier"]
    client.get_waiter("project_version_running").wait(ProjectArn=project, VersionNames=["v1"])
    [found] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    assert (found["Status"], found["StatusMessage"]) == ("RUNNING", "The model is running.")
    assert found["MinInferenceUnits"] == 1 and "MaxInferenceUnits" not in found
    assert "EvaluationResult" in found  # the training's results stay visible
    with pytest.raises(ClientError) as excinfo:
        client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"
    with pytest.raises(ClientError) as excinfo:
        client.delete_project_version(ProjectVersionArn=version)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"


@pytest.mark.parametrize("shape", SHAPES)
def test_the_classifier_names_what_it_sees(models, shape):
    image, _ = scene(7000 + SHAPES.index(shape), [shape])
    labels = models["client"].detect_custom_labels(
        ProjectVersionArn=models["classifier"][1], Image={"Bytes": image}, MinConfidence=0
    )["CustomLabels"]
    assert [label["Name"] for label in labels][0] == shape
    assert sorted(label["Name"] for label in labels) == sorted(SHAPES)
    assert all("Geometry" not in label for label in labels)
    confidences = [label["Confidence"] for label in labels]
    assert confidences == sorted(confidences, reverse=True)


def test_filters(models):
    client, version = models["client"], models["classifier"][1]
    image, _ = scene(7100, ["square"])
    default = client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})[
        "CustomLabels"
    ]
    assert [label["Name"] for label in default] == ["square"]  # the assumed thresholds apply
    assert (
        client.detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=0, MaxResults=0
        )["CustomLabels"]
        == []
    )
    assert (
        len(
            client.detect_custom_labels(
                ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=0, MaxResults=2
            )["CustomLabels"]
        )
        == 2
    )
    from_s3 = client.detect_custom_labels(
        ProjectVersionArn=version, Image={"S3Object": {"Bucket": BUCKET, "Name": "c1.jpg"}}
    )["CustomLabels"]
    assert from_s3[0]["Name"] == SHAPES[1]


def test_the_detector_returns_boxes(models):
    image, truth = scene(8000, ["circle", "triangle"], size=(320, 240))
    labels = models["client"].detect_custom_labels(  # the assumed thresholds apply
        ProjectVersionArn=models["detector"][1], Image={"Bytes": image}
    )["CustomLabels"]
    assert sorted(label["Name"] for label in labels[:2]) == ["circle", "triangle"]
    for label in labels:
        box = label["Geometry"]["BoundingBox"]
        assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1
        assert 0 < box["Width"] <= 1 and 0 < box["Height"] <= 1
    circle = next(label for label in labels if label["Name"] == "circle")
    left = next(b for name, b in truth if name == "circle")[0] / 320
    assert abs(circle["Geometry"]["BoundingBox"]["Left"] - left) < 0.1


@pytest.mark.parametrize(
    "image, code",
    [
        ({"Bytes": b"\x89PNG\r\n\x1a\n" + b"0" * (4 * 1024 * 1024)}, "ImageTooLargeException"),
        ({"Bytes": b"GIF89a not supported"}, "InvalidImageFormatException"),
        ({"Bytes": _png(4100, 500)}, "ImageTooLargeException"),
        ({"Bytes": _png(40, 40)}, "InvalidParameterException"),
        ({"Bytes": _png(2100, 100)}, "InvalidParameterException"),
        ({"S3Object": {"Bucket": BUCKET, "Name": "missing.jpg"}}, "InvalidS3ObjectException"),
        ({"S3Object": {"Bucket": BUCKET}}, "InvalidParameterException"),
        ({}, "InvalidParameterException"),
        (
            {"Bytes": b"x", "S3Object": {"Bucket": BUCKET, "Name": "c1.jpg"}},
            "InvalidParameterException",
        ),
    ],
)
def test_image_errors(models, image, code):
    with pytest.raises(ClientError) as excinfo:
        models["client"].detect_custom_labels(
            ProjectVersionArn=models["classifier"][1], Image=image
        )
    assert error_of(excinfo)["Code"] == code


def test_rules_replace_the_model(models):
    server, client, version = models["server"], models["client"], models["classifier"][1]
    image, _ = scene(7200, ["circle"])
    rule = {
        "match": {"sha256": hashlib.sha256(image).hexdigest()},
        "labels": [
            {"Name": "cat", "Confidence": 61.5},
            {
                "Name": "hat",
                "Confidence": 90,
                "Geometry": {"BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.2}},
            },
        ],
    }
    server.control("POST", "rules", rule)
    server.control(
        "POST",
        "rules",
        {
            "match": {"s3_key": f"{BUCKET}/c2.jpg"},
            "labels": [{"Name": "from-s3", "Confidence": 50}],
        },
    )
    try:
        found = client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})
        assert [label["Name"] for label in found["CustomLabels"]] == ["hat", "cat"]
        assert found["CustomLabels"][0]["Geometry"]["BoundingBox"]["Top"] == 0.2
        assert [
            label["Name"]
            for label in client.detect_custom_labels(
                ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=70
            )["CustomLabels"]
        ] == ["hat"]
        assert client.detect_custom_labels(
            ProjectVersionArn=version, Image={"S3Object": {"Bucket": BUCKET, "Name": "c2.jpg"}}
        )["CustomLabels"] == [{"Name": "from-s3", "Confidence": 50.0}]
        assert len(server.control("GET", "rules")["rules"]) == 2
        with pytest.raises(ValueError, match="Confidence must be"):
            server.control(
                "POST",
                "rules",
                {"match": {"sha256": "0" * 64}, "labels": [{"Name": "x", "Confidence": 101}]},
            )
    finally:
        server.control("DELETE", "rules")
    assert (
        client.detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=0
        )["CustomLabels"][0]["Name"]
        == "circle"
    )


def test_inference_unit_rules(models):
    """Min above Max is a bad request whatever the model; the units quota is checked after the
    model's existence and state (api.md §1.6: quotas come last)."""
    client, version = models["client"], models["detector"][1]
    missing = version.rsplit("/", 1)[0] + "/1000000000000"
    for arn, kwargs, code in (
        (missing, {"MinInferenceUnits": 3, "MaxInferenceUnits": 2}, "InvalidParameterException"),
        (missing, {"MinInferenceUnits": 11}, "ResourceNotFoundException"),
        (version, {"MinInferenceUnits": 11}, "ResourceInUseException"),  # it is RUNNING
        (version, {"MinInferenceUnits": 1, "MaxInferenceUnits": 11}, "ResourceInUseException"),
    ):
        with pytest.raises(ClientError) as excinfo:
            client.start_project_version(ProjectVersionArn=arn, **kwargs)
        assert error_of(excinfo)["Code"] == code


def test_stop_restart_and_persistence(models):
    server, client = models["server"], models["client"]
    project, version = models["detector"]
    assert client.stop_project_version(ProjectVersionArn=version)["Status"] == "STOPPING"
    [found] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    assert found["Status"] in ("STOPPING", "STOPPED")
    with pytest.raises(ClientError) as excinfo:
        client.stop_project_version(ProjectVersionArn=version)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"
    image, _ = scene(8100, ["square"], size=(320, 240))
    with pytest.raises(ClientError) as excinfo:
        client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})
    assert error_of(excinfo)["Code"] == "ResourceNotReadyException"
    for units in ({"MinInferenceUnits": 11}, {"MinInferenceUnits": 1, "MaxInferenceUnits": 11}):
        with pytest.raises(ClientError) as excinfo:  # STOPPED: now the quota applies
            client.start_project_version(ProjectVersionArn=version, **units)
        # issue 12: the message names no fakerek setting
        assert error_of(excinfo) == {
            "Code": "LimitExceededException",
            "Message": "A model can run on at most 10 inference units.",
            "Status": 400,
        }
    assert (
        client.start_project_version(
            ProjectVersionArn=version, MinInferenceUnits=2, MaxInferenceUnits=3
        )["Status"]
        == "STARTING"
    )
    server.restart()  # a new port: the module's clients follow
    client = server.client()
    models["client"], models["s3"] = client, server.client("s3")
    [found] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    assert (found["Status"], found["MinInferenceUnits"], found["MaxInferenceUnits"]) == (
        "RUNNING",
        2,
        3,
    )
    labels = client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})[
        "CustomLabels"
    ]
    assert "square" in [label["Name"] for label in labels]
    assert json.dumps(labels)


def test_throughput_autoscaling_unit_loss_and_usage(models):
    server, client = models["server"], models["client"]
    project, version = models["classifier"]
    image, _ = scene(7300, ["circle"])
    client.stop_project_version(ProjectVersionArn=version)
    client.start_project_version(
        ProjectVersionArn=version, MinInferenceUnits=1, MaxInferenceUnits=2
    )
    server.configure(tps_per_inference_unit=2, autoscale_idle_seconds=60)
    # a stopped clock: only the test moves it, however slow the machine
    server.control("POST", "clock", {"freeze": True, "advance": 5})  # a full bucket: 2 calls

    def call() -> str:
        try:
            client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})
            return "ok"
        except ClientError as error:
            return error.response["Error"]["Code"]

    try:
        first = [call() for _ in range(3)]
        assert first[:2] == ["ok", "ok"]
        assert first[2] == "ProvisionedThroughputExceededException"
        [usage] = [
            m for m in server.control("GET", "usage")["models"] if m["ProjectVersionArn"] == version
        ]
        assert (usage["DesiredInferenceUnits"], usage["InServiceInferenceUnits"]) == (2, 2)
        assert (usage["Requests"], usage["ThrottledRequests"]) == (2, 1)
        server.control("POST", "clock", {"advance": 1})  # 2 units refill 4 calls per second
        assert [call() for _ in range(4)] == ["ok"] * 4
        server.control(
            "POST", "faults", {"units_lost": {"model": version, "units": 1, "seconds": 30}}
        )
        server.control("POST", "clock", {"advance": 1})
        assert [call() for _ in range(3)] == ["ok", "ok", "ProvisionedThroughputExceededException"]
        [found] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        assert found["Status"] == "RUNNING"
        server.control("POST", "clock", {"advance": 3600})  # an idle hour: back to the minimum
        assert call() == "ok"
        usage = server.control("GET", f"usage?model={version}")["models"][0]
        assert usage["DesiredInferenceUnits"] == 1
        assert usage["RunningHours"] >= 1
        # two units for the hour, less one unit for the 30 s it was lost
        assert 1.95 < usage["InferenceUnitHours"] < 2.05
    finally:
        server.configure(tps_per_inference_unit=None)
        server.control("POST", "clock", {"freeze": False})
    assert server.control("GET", "config")["tps_per_inference_unit"] is None


def _policy(project_name: str, principal: str, effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": effect,
                    "Principal": {"AWS": principal},
                    "Action": "rekognition:CopyProjectVersion",
                    "Resource": (
                        "arn:aws:rekognition:us-east-1:123456789012:"
                        f"project/{project_name}/version/*"
                    ),
                }
            ],
        }
    )


def test_copy_within_the_account(models):
    client = models["client"]
    source_project, source = models["classifier"]
    destination = client.create_project(ProjectName="copies")["ProjectArn"]
    arn = client.copy_project_version(
        SourceProjectArn=source_project,
        SourceProjectVersionArn=source,
        DestinationProjectArn=destination,
        VersionName="copied",
        OutputConfig={"S3Bucket": "out", "S3KeyPrefix": "copies"},
        Tags={"copy": "yes"},
    )["ProjectVersionArn"]
    assert arn.startswith(destination.rsplit("/", 1)[0] + "/version/copied/")
    [found] = client.describe_project_versions(ProjectArn=destination)["ProjectVersionDescriptions"]
    assert (found["Status"], found["StatusMessage"]) == (
        "COPYING_COMPLETED",
        "The model has been copied and is ready to run.",
    )
    assert found["SourceProjectVersionArn"] == source
    assert found["VersionDescription"] == "shapes, first try"  # the copy is the same model
    assert "BillableTrainingTimeInSeconds" not in found
    assert found["EvaluationResult"]["Summary"]["S3Object"]["Name"] == (
        "copies/EvaluationResultSummary-copies-copied.json"
    )
    models["s3"].head_object(Bucket="out", Key="copies/EvaluationResultSummary-copies-copied.json")
    assert found["ManifestSummary"]["S3Object"]["Name"] == (  # named after the copy
        "copies/ManifestSummary-copies-copied.json"
    )
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"copy": "yes"}
    client.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
    image, _ = scene(7400, ["triangle"])
    labels = client.detect_custom_labels(
        ProjectVersionArn=arn, Image={"Bytes": image}, MinConfidence=0
    )["CustomLabels"]
    assert labels[0]["Name"] == "triangle"
    client.stop_project_version(ProjectVersionArn=arn)
    for kwargs, code in (
        ({"VersionName": "copied"}, "ResourceInUseException"),
        (
            {"DestinationProjectArn": destination.rsplit("/", 1)[0] + "/1000000000000"},
            "ResourceNotFoundException",
        ),
        ({"SourceProjectArn": destination}, "InvalidParameterException"),
    ):
        request = {
            "SourceProjectArn": source_project,
            "SourceProjectVersionArn": source,
            "DestinationProjectArn": destination,
            "VersionName": "again",
            "OutputConfig": {"S3Bucket": "out"},
            **kwargs,
        }
        with pytest.raises(ClientError) as excinfo:
            client.copy_project_version(**request)
        assert error_of(excinfo)["Code"] == code


def test_copy_across_accounts_needs_a_policy(models):
    server, client = models["server"], models["client"]
    source_project, source = models["classifier"]
    other = server.client(account="111122223333")
    server.client("s3", account="111122223333").create_bucket(Bucket="their-results")
    destination = other.create_project(ProjectName="theirs")["ProjectArn"]
    request = {
        "SourceProjectArn": source_project,
        "SourceProjectVersionArn": source,
        "DestinationProjectArn": destination,
        "VersionName": "borrowed",
        "OutputConfig": {"S3Bucket": "their-results", "S3KeyPrefix": "theirs"},
    }
    with pytest.raises(ClientError) as excinfo:
        other.copy_project_version(**request)
    assert error_of(excinfo)["Code"] == "AccessDeniedException"
    revision = client.put_project_policy(
        ProjectArn=source_project,
        PolicyName="share",
        PolicyDocument=_policy("shapes", "arn:aws:iam::111122223333:root"),
    )["PolicyRevisionId"]
    try:
        arn = other.copy_project_version(**request)["ProjectVersionArn"]
        assert ":111122223333:project/theirs/version/borrowed/" in arn
        [found] = other.describe_project_versions(ProjectArn=destination)[
            "ProjectVersionDescriptions"
        ]
        assert found["Status"] == "COPYING_COMPLETED"
        assert found["EvaluationResult"]["Summary"]["S3Object"]["Bucket"] == "their-results"
        # the copy's results go to the caller's bucket, never to another account's
        other.copy_project_version(
            **{**request, "VersionName": "elsewhere", "OutputConfig": {"S3Bucket": "out"}}
        )
        [found] = other.describe_project_versions(
            ProjectArn=destination, VersionNames=["elsewhere"]
        )["ProjectVersionDescriptions"]
        assert found["Status"] == "COPYING_FAILED"
        client.put_project_policy(
            ProjectArn=source_project,
            PolicyName="share",
            PolicyRevisionId=revision,
            PolicyDocument=_policy("shapes", "123456789012", "Deny"),
        )
        same = client.create_project(ProjectName="mine")["ProjectArn"]
        with pytest.raises(ClientError) as excinfo:  # a Deny binds the owner too
            client.copy_project_version(**{**request, "DestinationProjectArn": same})
        assert error_of(excinfo)["Code"] == "AccessDeniedException"
    finally:
        client.delete_project_policy(ProjectArn=source_project, PolicyName="share")
