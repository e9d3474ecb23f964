"""Training through the API: CreateProjectVersion, DescribeProjectVersions, DeleteProjectVersion."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError, WaiterError
from conftest import error_of
from images import SHAPES, scene
from manifests import BUCKET, box_line, image_line, manifest, project_from

OUT = "results"


def upload_shapes(s3, count: int, labels=SHAPES, prefix: str = "img", seed: int = 100):
    lines = []
    for i in range(count):
        label = labels[i % len(labels)]
        data, _ = scene(seed + i, [label if label in SHAPES else SHAPES[i % 3]])
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{i}.jpg", Body=data)
        lines.append(image_line(f"{prefix}{i}.jpg", label))
    return lines


def own_project(server, images: int) -> tuple:
    """On a server of the test's own: buckets, and a project trained-ready with `images`,
    imported (a test may switch to realistic timing, where an import still running refuses
    training)."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=OUT)
    client = server.client()
    project = project_from(client, s3, "p", upload_shapes(s3, images), "train.manifest")
    [dataset] = client.describe_projects(ProjectNames=["p"])["ProjectDescriptions"][0]["Datasets"]
    assert dataset["Status"] == "CREATE_COMPLETE"  # instant timing: the read waited for it
    return client, project


@pytest.fixture
def s3(fakerek):
    client = fakerek.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.create_bucket(Bucket=OUT)
    return client


@pytest.fixture
def trained_project(rekognition, s3):
    """A project whose TRAIN dataset holds 30 labelled shapes (no TEST dataset), imported: a
    test may switch to realistic timing, where a dataset still importing refuses training."""
    project = project_from(rekognition, s3, "shapes", upload_shapes(s3, 30), "train.manifest")
    [dataset] = rekognition.describe_projects(ProjectNames=["shapes"])["ProjectDescriptions"][0][
        "Datasets"
    ]
    assert dataset["Status"] == "CREATE_COMPLETE"  # instant timing: the read waited for it
    return project


def train(rekognition, project, name="v1", **kwargs):
    kwargs.setdefault("OutputConfig", {"S3Bucket": OUT, "S3KeyPrefix": "runs/"})
    return rekognition.create_project_version(ProjectArn=project, VersionName=name, **kwargs)[
        "ProjectVersionArn"
    ]


def describe(rekognition, project, name="v1"):
    [found] = rekognition.describe_project_versions(ProjectArn=project, VersionNames=[name])[
        "ProjectVersionDescriptions"
    ]
    return found


def read_json(s3, location):
    body = s3.get_object(Bucket=location["S3Object"]["Bucket"], Key=location["S3Object"]["Name"])
    return json.loads(body["Body"].read())


def test_train_from_datasets_with_auto_split(rekognition, s3, trained_project):
    arn = train(rekognition, trained_project, Tags={}, VersionDescription="first try (v1)")
    assert arn.startswith(f"{trained_project.rsplit('/', 1)[0]}/version/v1/")
    rekognition.get_waiter("project_version_training_completed").wait(
        ProjectArn=trained_project, VersionNames=["v1"]
    )
    found = describe(rekognition, trained_project)
    assert found["Status"] == "TRAINING_COMPLETED"
    assert found["StatusMessage"] == "The model is ready to run."
    assert found["VersionDescription"] == "first try (v1)"
    assert found["BillableTrainingTimeInSeconds"] >= 1
    assert found["TrainingEndTimestamp"] >= found["CreationTimestamp"]
    assert found["OutputConfig"] == {"S3Bucket": OUT, "S3KeyPrefix": "runs/"}
    assert found["TrainingDataResult"]["Input"] == {}
    assert found["TestingDataResult"]["Input"] == {"AutoCreate": True}
    assert found["TestingDataResult"]["Output"]["AutoCreate"] is True
    keys = {
        found["ManifestSummary"]["S3Object"]["Name"],
        found["EvaluationResult"]["Summary"]["S3Object"]["Name"],
        *(
            found[result][part]["Assets"][0]["GroundTruthManifest"]["S3Object"]["Name"]
            for result in ("TrainingDataResult", "TestingDataResult")
            for part in ("Validation", "Output")
        ),
    }
    assert keys == {  # every artefact directly under the prefix, named as AWS names them
        "runs/ManifestSummary-shapes-v1.json",
        "runs/EvaluationResultSummary-shapes-v1.json",
        "runs/TrainingManifestWithValidation-shapes-v1.json",
        "runs/TestingManifestWithValidation-shapes-v1.json",
        "runs/TrainingGroundTruth-shapes-v1.json",
        "runs/TestingGroundTruth-shapes-v1.json",
    }
    listed = s3.list_objects_v2(Bucket=OUT, Prefix="runs/")["Contents"]
    assert {item["Key"] for item in listed} == keys
    summary = read_json(s3, found["EvaluationResult"]["Summary"])
    assert summary["EvaluationDetails"]["NumberOfTrainingImages"] == 24
    assert summary["EvaluationDetails"]["NumberOfTestingImages"] == 6
    assert summary["EvaluationDetails"]["Labels"] == sorted(SHAPES)
    assert summary["AggregatedEvaluationResults"]["F1Score"] == pytest.approx(
        found["EvaluationResult"]["F1Score"]
    )
    assert len(summary["AggregatedEvaluationResults"]["ConfusionMatrix"]) == 9
    f1s = [r["Metrics"]["F1Score"] for r in summary["LabelEvaluationResults"]]
    assert f1s == sorted(f1s, reverse=True)
    assert found["EvaluationResult"]["F1Score"] >= 0.5  # it learned something real
    manifest_summary = read_json(s3, found["ManifestSummary"])
    assert manifest_summary["statistics"]["training"]["total_json_lines"] == 24
    assert manifest_summary["statistics"]["testing"]["use_case"] == "IMAGE_LEVEL_LABELS"
    evaluation = s3.get_object(Bucket=OUT, Key="runs/TestingGroundTruth-shapes-v1.json")["Body"]
    first = json.loads(evaluation.read().decode().splitlines()[0])
    details = first["rekognition-custom-labels-evaluation-0-metadata"][
        "rekognition-custom-labels-evaluation-details"
    ]
    assert (
        sum(
            details[k]
            for k in (
                "is-true-positive",
                "is-true-negative",
                "is-false-positive",
                "is-false-negative",
            )
        )
        == 1
    )


def test_training_is_deterministic(fakerek, rekognition, trained_project):
    fakerek.configure(model_cache_mb=0)  # both compute
    train(rekognition, trained_project, "a")
    train(rekognition, trained_project, "b")
    found = rekognition.describe_project_versions(ProjectArn=trained_project)[
        "ProjectVersionDescriptions"
    ]
    assert [v["ProjectVersionArn"].split("/")[3] for v in found] == ["b", "a"]  # newest first
    assert found[0]["EvaluationResult"]["F1Score"] == found[1]["EvaluationResult"]["F1Score"]


def test_external_manifests(rekognition, s3):
    lines = upload_shapes(s3, 24)
    s3.put_object(Bucket=BUCKET, Key="ext/train.manifest", Body=manifest(lines[:18]))
    s3.put_object(Bucket=BUCKET, Key="ext/test.manifest", Body=manifest(lines[18:]))
    project = rekognition.create_project(ProjectName="external")["ProjectArn"]

    def asset(key):
        return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}}]}

    train(
        rekognition,
        project,
        TrainingData=asset("ext/train.manifest"),
        TestingData=asset("ext/test.manifest"),
        OutputConfig={"S3Bucket": OUT},
    )
    found = describe(rekognition, project)
    assert found["Status"] == "TRAINING_COMPLETED", found["StatusMessage"]
    assert found["OutputConfig"] == {"S3Bucket": OUT, "S3KeyPrefix": ""}
    assert found["TrainingDataResult"]["Input"] == asset("ext/train.manifest")
    assert found["ManifestSummary"]["S3Object"]["Name"] == "ManifestSummary-external-v1.json"


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"TrainingData": {"Assets": []}}, "InvalidParameterException"),
        ({"TestingData": {"AutoCreate": True}}, "InvalidParameterException"),
        (
            {
                "TrainingData": {
                    "Assets": [
                        {
                            "GroundTruthManifest": {
                                "S3Object": {"Bucket": BUCKET, "Name": "a.manifest"}
                            }
                        }
                    ]
                },
                "TestingData": {"AutoCreate": True},
            },
            "InvalidParameterException",
        ),  # project has data
        (
            {"FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": 50}}},
            "InvalidParameterException",
        ),
        ({"OutputConfig": {"S3KeyPrefix": "x"}}, "InvalidParameterException"),
        ({"VersionName": "bad name"}, "ValidationException"),
        ({"VersionDescription": "no \u00e9"}, "ValidationException"),
    ],
)
def test_request_errors(rekognition, trained_project, kwargs, code):
    name = kwargs.pop("VersionName", "v1")
    with pytest.raises(ClientError) as excinfo:
        train(rekognition, trained_project, name, **kwargs)
    assert error_of(excinfo)["Code"] == code


def test_project_state_errors(fakerek, rekognition, s3, trained_project):
    train(rekognition, trained_project)
    with pytest.raises(ClientError) as excinfo:
        train(rekognition, trained_project)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"
    empty = rekognition.create_project(ProjectName="empty")["ProjectArn"]
    with pytest.raises(ClientError) as excinfo:
        train(rekognition, empty)
    assert error_of(excinfo)["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        train(rekognition, empty.rsplit("/", 1)[0] + "/1000000000000")
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    fakerek.configure(timing="realistic", delays={"dataset": 30})
    rekognition.create_dataset(ProjectArn=empty, DatasetType="TRAIN")
    with pytest.raises(ClientError) as excinfo:
        train(rekognition, empty)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"


def test_content_errors_fail_the_training_with_artefacts(rekognition, s3):
    lines = upload_shapes(s3, 10, labels=("circle",))
    project = project_from(rekognition, s3, "one-label", lines, "one.manifest")
    train(rekognition, project)
    with pytest.raises(WaiterError):
        rekognition.get_waiter("project_version_training_completed").wait(
            ProjectArn=project, VersionNames=["v1"]
        )
    found = describe(rekognition, project)
    assert found["Status"] == "TRAINING_FAILED"
    assert found["StatusMessage"] == (
        "ERROR_MANIFEST_TOO_FEW_LABELS: The manifest file has too few labels."
    )
    assert "EvaluationResult" not in found and "BillableTrainingTimeInSeconds" not in found
    assert "TrainingEndTimestamp" in found
    summary = read_json(s3, found["ManifestSummary"])
    assert summary["statistics"]["training"]["errors"][0]["code"] == (
        "ERROR_MANIFEST_TOO_FEW_LABELS"
    )
    assert "Output" not in found["TrainingDataResult"]


def test_file_errors_leave_no_artefacts(rekognition, trained_project):
    train(rekognition, trained_project, OutputConfig={"S3Bucket": "no-such-output"})
    found = describe(rekognition, trained_project)
    assert found["StatusMessage"] == (
        "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET: Unable to write to output S3 bucket."
    )
    assert "ManifestSummary" not in found
    assert "Validation" not in found["TrainingDataResult"]


def test_an_empty_test_dataset_is_an_empty_manifest(rekognition, trained_project):
    """A project dataset with no entries is an empty manifest (manifests.md §2.3 F2, §2.8 step
    1), the TEST one as the TRAIN one: a file error, before any content check, with no
    artefacts (it was ERROR_MANIFEST_TOO_FEW_LABELS; found by the stateful tests)."""
    rekognition.create_dataset(ProjectArn=trained_project, DatasetType="TEST")
    train(rekognition, trained_project)
    found = describe(rekognition, trained_project)
    assert (found["Status"], found["StatusMessage"]) == (
        "TRAINING_FAILED",
        "ERROR_EMPTY_MANIFEST: The manifest file is empty.",
    )
    assert "ManifestSummary" not in found
    assert "Validation" not in found["TestingDataResult"]


def test_injected_training_failures(fakerek, rekognition, trained_project):
    fakerek.control(
        "POST", "faults", {"training": {"code": "ERROR_FAILED_IMAGES_S3_COPY", "count": 1}}
    )
    fakerek.control("POST", "faults", {"training": {"code": "SERVICE_ERROR"}})
    train(rekognition, trained_project, "a")
    train(rekognition, trained_project, "b")
    train(rekognition, trained_project, "c")
    by_name = {
        v["ProjectVersionArn"].split("/")[3]: v
        for v in rekognition.describe_project_versions(ProjectArn=trained_project)[
            "ProjectVersionDescriptions"
        ]
    }
    assert by_name["a"]["StatusMessage"] == (
        "ERROR_FAILED_IMAGES_S3_COPY: Failed to copy images from S3 bucket."
    )
    assert by_name["b"]["StatusMessage"] == "Amazon Rekognition experienced a service issue."
    assert by_name["c"]["Status"] == "TRAINING_COMPLETED"
    with pytest.raises(ValueError, match="training code must be"):
        fakerek.control("POST", "faults", {"training": {"code": "ERROR_NOPE"}})


def test_realistic_timing_and_deletion(fakerek, rekognition, trained_project):
    fakerek.configure(timing="realistic", delays={"training": 3, "deleting": 30})
    arn = train(rekognition, trained_project)
    found = describe(rekognition, trained_project)
    assert (found["Status"], found["StatusMessage"]) == (
        "TRAINING_IN_PROGRESS",
        "The model is being trained.",
    )
    assert "EvaluationResult" not in found and "TrainingEndTimestamp" not in found
    with pytest.raises(ClientError) as excinfo:
        rekognition.delete_project_version(ProjectVersionArn=arn)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"
    rekognition.get_waiter("project_version_training_completed").wait(
        ProjectArn=trained_project, VersionNames=["v1"], WaiterConfig={"Delay": 1}
    )
    assert rekognition.delete_project_version(ProjectVersionArn=arn)["Status"] == "DELETING"
    assert describe(rekognition, trained_project)["Status"] == "DELETING"
    assert rekognition.delete_project_version(ProjectVersionArn=arn)["Status"] == "DELETING"
    with pytest.raises(ClientError) as excinfo:
        rekognition.delete_project(ProjectArn=trained_project)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"


def test_delete_then_gone_and_tags(rekognition, trained_project):
    arn = train(rekognition, trained_project, Tags={"stage": "test"})
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"stage": "test"}
    assert rekognition.delete_project_version(ProjectVersionArn=arn)["Status"] == "DELETING"
    assert (
        rekognition.describe_project_versions(ProjectArn=trained_project, VersionNames=["v1"])[
            "ProjectVersionDescriptions"
        ]
        == []
    )
    with pytest.raises(ClientError) as excinfo:
        rekognition.list_tags_for_resource(ResourceArn=arn)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    dataset = rekognition.describe_projects()["ProjectDescriptions"][0]["Datasets"][0]
    rekognition.delete_dataset(DatasetArn=dataset["DatasetArn"])
    assert rekognition.delete_project(ProjectArn=trained_project)["Status"] == "DELETING"


def test_describe_errors_and_pages(rekognition, trained_project):
    for name in ("a", "b", "c"):
        train(rekognition, trained_project, name)
    pages = rekognition.get_paginator("describe_project_versions").paginate(
        ProjectArn=trained_project, PaginationConfig={"PageSize": 2}
    )
    assert [
        v["ProjectVersionArn"].split("/")[3] for p in pages for v in p["ProjectVersionDescriptions"]
    ] == ["c", "b", "a"]
    assert (
        rekognition.describe_project_versions(ProjectArn=trained_project, VersionNames=["zzz"])[
            "ProjectVersionDescriptions"
        ]
        == []
    )
    with pytest.raises(ClientError) as excinfo:
        rekognition.describe_project_versions(
            ProjectArn=trained_project.rsplit("/", 1)[0] + "/1000000000000"
        )
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        rekognition.describe_project_versions(ProjectArn=trained_project, MaxResults=101)
    assert error_of(excinfo)["Code"] == "ValidationException"


def test_versions_survive_a_restart(own_server):
    client, project = own_project(own_server, 15)
    train(client, project)
    before = describe(client, project)
    own_server.restart()
    after = describe(own_server.client(), project)
    assert after == before


def upload_boxes(s3, count: int, seed: int = 2000):
    lines = []
    for i in range(count):
        shapes = [SHAPES[(i + k) % 3] for k in range(1 + i % 2)]
        data, boxes = scene(seed + i, shapes, size=(320, 240))
        s3.put_object(Bucket=BUCKET, Key=f"box{i}.jpg", Body=data)
        lines.append(
            box_line(
                f"box{i}.jpg",
                [(label, (b[0], b[1], b[2] - b[0], b[3] - b[1])) for label, b in boxes],
                size=(320, 240),
            )
        )
    return lines


def test_object_localisation(rekognition, s3):
    project = project_from(rekognition, s3, "boxes", upload_boxes(s3, 40), "boxes.manifest")
    train(rekognition, project)
    found = describe(rekognition, project)
    assert found["Status"] == "TRAINING_COMPLETED", found["StatusMessage"]
    summary = read_json(s3, found["EvaluationResult"]["Summary"])
    aggregated = summary["AggregatedEvaluationResults"]
    assert "ConfusionMatrix" not in aggregated
    assert aggregated["AveragePrecision"] >= 0.6  # real boxes, found again on held-out images
    assert set(summary["EvaluationDetails"]["Labels"]) == set(SHAPES)
    manifest_summary = read_json(s3, found["ManifestSummary"])
    assert manifest_summary["statistics"]["training"]["use_case"] == "OBJECT_LOCALIZATION"
    snapshot = s3.get_object(Bucket=OUT, Key="runs/TestingGroundTruth-boxes-v1.json")["Body"].read()
    first = json.loads(snapshot.decode().splitlines()[0])
    predicted = first["rekognition-custom-labels-evaluation"]["annotations"]
    objects = first["rekognition-custom-labels-evaluation-metadata"]["objects"]
    assert len(predicted) == len(objects) >= 1


def test_multi_label_classification(rekognition, s3):
    lines = []
    for i in range(24):
        pair = [SHAPES[i % 3], SHAPES[(i + 1) % 3]][: 1 + i % 2]
        data, _ = scene(3000 + i, pair)
        s3.put_object(Bucket=BUCKET, Key=f"multi{i}.jpg", Body=data)
        lines.append(image_line(f"multi{i}.jpg", *pair))
    project = project_from(rekognition, s3, "multi", lines, "multi.manifest")
    train(rekognition, project)
    found = describe(rekognition, project)
    assert found["Status"] == "TRAINING_COMPLETED", found["StatusMessage"]
    summary = read_json(s3, found["EvaluationResult"]["Summary"])
    assert sorted(r["Label"] for r in summary["LabelEvaluationResults"]) == sorted(SHAPES)
    assert summary["AggregatedEvaluationResults"]["F1Score"] > 0.5


def test_external_manifest_with_auto_split(rekognition, s3):
    s3.put_object(Bucket=BUCKET, Key="all.manifest", Body=manifest(upload_shapes(s3, 20)))
    project = rekognition.create_project(ProjectName="auto")["ProjectArn"]
    location = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "all.manifest"}}}
    train(
        rekognition, project, TrainingData={"Assets": [location]}, TestingData={"AutoCreate": True}
    )
    found = describe(rekognition, project)
    assert found["Status"] == "TRAINING_COMPLETED", found["StatusMessage"]
    assert found["TestingDataResult"]["Input"] == {"AutoCreate": True}
    summary = read_json(s3, found["ManifestSummary"])
    assert summary["statistics"]["testing"]["total_json_lines"] == 4


def test_datasets_stay_while_a_model_trains(fakerek, rekognition, trained_project):
    fakerek.configure(timing="realistic", delays={"training": 30})
    train(rekognition, trained_project)
    dataset = rekognition.describe_projects()["ProjectDescriptions"][0]["Datasets"][0]
    with pytest.raises(ClientError) as excinfo:
        rekognition.delete_dataset(DatasetArn=dataset["DatasetArn"])
    assert error_of(excinfo)["Code"] == "ResourceInUseException"


def test_in_instant_timing_a_dataset_goes_right_after_a_training_starts(
    rekognition, trained_project
):
    """Instant timing: the next request already sees the training ended (api.md §4.1), so
    DeleteDataset right after CreateProjectVersion waits for it instead of answering
    ResourceInUseException while its job still runs (found by the stateful tests)."""
    [dataset] = rekognition.describe_projects()["ProjectDescriptions"][0]["Datasets"]
    train(rekognition, trained_project)  # 30 images: the job runs for a while
    rekognition.delete_dataset(DatasetArn=dataset["DatasetArn"])
    assert describe(rekognition, trained_project)["Status"] == "TRAINING_COMPLETED"


def test_a_training_cut_by_a_crash_fails_with_a_service_error(own_server):
    client, project = own_project(own_server, 60)
    own_server.configure(timing="realistic", delays={"training": 0})
    train(client, project)
    time.sleep(0.2)  # the first training of a process spends longer than this building models
    own_server.kill()
    own_server.start()
    found = describe(own_server.client(), project)
    if found["Status"] == "TRAINING_FAILED":
        assert found["StatusMessage"] == "Amazon Rekognition experienced a service issue."
        assert "EvaluationResult" not in found
    else:  # the machine finished first: a completed training must be whole
        assert found["Status"] == "TRAINING_COMPLETED" and "EvaluationResult" in found


def test_a_model_that_cannot_load_fails_to_start(fakerek, rekognition, trained_project):
    import os
    import shutil

    arn = train(rekognition, trained_project)
    describe(rekognition, trained_project)
    shutil.rmtree(os.path.join(fakerek.data_dir, "models"))  # the model's files are gone
    assert (
        rekognition.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)["Status"]
        == "STARTING"
    )
    with pytest.raises(WaiterError):
        rekognition.get_waiter("project_version_running").wait(
            ProjectArn=trained_project, VersionNames=["v1"]
        )
    found = describe(rekognition, trained_project)
    assert (found["Status"], found["StatusMessage"]) == ("FAILED", "The model failed to start.")
    assert "EvaluationResult" in found  # what training produced stays
    image, _ = scene(1, ["circle"])
    with pytest.raises(ClientError) as excinfo:
        rekognition.detect_custom_labels(ProjectVersionArn=arn, Image={"Bytes": image})
    assert error_of(excinfo)["Code"] == "ResourceNotReadyException"
    rekognition.delete_project_version(ProjectVersionArn=arn)  # a FAILED model can be deleted
