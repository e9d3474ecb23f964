"""Custom Moderation end to end through boto3: adapter projects, training from manifests, the
output and evaluation files, DetectModerationLabels with and without an adapter, the base model's
rules, releases of the base model, and every error botocore lists."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from botocore.exceptions import ClientError, WaiterError
from conftest import error_of
from images import scene
from PIL import Image

from fakerek.testing import FakerekServer

BUCKET = "moderation"
KINDS = {"circle": ["Violence"], "square": ["Alcohol"], None: []}  # the shape a category shows
TRAINING_WAITER = "project_version_training_completed"


def _jpeg(width: int, height: int, colour=(40, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


def ground_truth(source: str, labels: list[str]) -> str:
    return json.dumps(
        {
            "source-ref": source,
            "content-moderation-groundtruth": {"ModerationLabels": [{"Name": n} for n in labels]},
        }
    )


def upload_images(s3, prefix: str, count: int, seed: int) -> list[str]:
    """`count` images (a circle, a square, or neither, in turn) and their manifest lines."""
    lines = []
    for i in range(count):
        kind = ("circle", "square", None, None)[i % 4]
        data, _ = scene(seed + i, [kind] if kind else [])
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{i}.jpg", Body=data)
        lines.append(ground_truth(f"s3://{BUCKET}/{prefix}/{i}.jpg", KINDS[kind]))
    return lines


def put_manifest(s3, key: str, lines: list[str]) -> dict:
    s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines) + "\n")
    return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}}]}


def adapter_project(client, name: str = "moderation", auto_update: str = "ENABLED") -> str:
    return client.create_project(
        ProjectName=name, Feature="CONTENT_MODERATION", AutoUpdate=auto_update
    )["ProjectArn"]


def describe(client, project: str, name: str) -> dict:
    [found] = client.describe_project_versions(ProjectArn=project, VersionNames=[name])[
        "ProjectVersionDescriptions"
    ]
    return found


def read_json(s3, location: dict):
    body = s3.get_object(Bucket=location["S3Object"]["Bucket"], Key=location["S3Object"]["Name"])
    return body["Body"].read().decode()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One server with two trained adapters: `auto` (TestingData AutoCreate left out, a
    FeatureConfig threshold of 70) and `manual` (a testing manifest, no FeatureConfig)."""
    with FakerekServer(str(tmp_path_factory.mktemp("moderation"))) as server:
        client, s3 = server.client(), server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        training = put_manifest(s3, "train.manifest", upload_images(s3, "train", 40, 3000))
        project = adapter_project(client)
        auto = client.create_project_version(
            ProjectArn=project,
            VersionName="auto",
            OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "results/"},
            TrainingData=training,
            FeatureConfig={"ContentModeration": {"ConfidenceThreshold": 70}},
            VersionDescription="first adapter",
            Tags={"team": "trust"},
        )["ProjectVersionArn"]
        testing = put_manifest(s3, "test.manifest", upload_images(s3, "test", 12, 7000))
        manual = client.create_project_version(
            ProjectArn=project,
            VersionName="manual",
            OutputConfig={"S3Bucket": BUCKET},
            TrainingData=training,
            TestingData=testing,
        )["ProjectVersionArn"]
        client.get_waiter(TRAINING_WAITER).wait(ProjectArn=project)
        yield {
            "server": server,
            "client": client,
            "s3": s3,
            "project": project,
            "auto": auto,
            "manual": manual,
        }


# -- training -------------------------------------------------------------------------------------


def test_an_adapter_trained_with_auto_split_is_described_as_aws_does(trained):
    client, project = trained["client"], trained["project"]
    found = describe(client, project, "auto")
    assert (found["Status"], found["StatusMessage"]) == (
        "TRAINING_COMPLETED",
        "The adapter is ready to use.",
    )
    assert found["ProjectVersionArn"] == trained["auto"]
    assert found["Feature"] == "CONTENT_MODERATION"
    assert found["BaseModelVersion"] == "7.0"
    assert found["FeatureConfig"] == {"ContentModeration": {"ConfidenceThreshold": 70.0}}
    assert found["VersionDescription"] == "first adapter"
    assert found["OutputConfig"] == {"S3Bucket": BUCKET, "S3KeyPrefix": "results/"}
    assert found["TrainingDataResult"]["Input"]["Assets"][0]["GroundTruthManifest"] == {
        "S3Object": {"Bucket": BUCKET, "Name": "train.manifest"}
    }
    assert found["TestingDataResult"]["Input"] == {"AutoCreate": True}
    assert found["TestingDataResult"]["Output"]["AutoCreate"] is True
    for result in ("TrainingDataResult", "TestingDataResult"):
        assert "Validation" not in found[result]
    assert 0 < found["EvaluationResult"]["F1Score"] <= 1
    assert found["BillableTrainingTimeInSeconds"] >= 1
    assert found["TrainingEndTimestamp"] >= found["CreationTimestamp"]
    for absent in ("MinInferenceUnits", "MaxInferenceUnits", "SourceProjectVersionArn"):
        assert absent not in found
    assert client.list_tags_for_resource(ResourceArn=trained["auto"])["Tags"] == {"team": "trust"}


def test_the_evaluation_file_compares_the_adapter_with_the_base_model(trained):
    client, s3 = trained["client"], trained["s3"]
    found = describe(client, trained["project"], "auto")
    evaluation = json.loads(read_json(s3, found["EvaluationResult"]["Summary"]))
    assert found["EvaluationResult"]["Summary"]["S3Object"]["Name"] == (
        "results/EvaluationResults-moderation-auto.json"
    )
    details = evaluation["EvaluationDetails"]
    assert details["Labels"] == ["Alcohol", "Violence"]
    assert details["ProjectVersionArn"] == trained["auto"]
    assert details["NumberOfTestingImages"] + details["NumberOfTrainingImages"] == 40
    assert details["NumberOfTestingImages"] == 8  # a fifth
    moderation = evaluation["ContentModeration"]
    given = moderation["InputConfidenceThresholdEvalResults"]
    assert given["ConfidenceThreshold"] == 70.0
    thresholds = [
        r["ConfidenceThreshold"] for r in moderation["AllConfidenceThresholdsEvalResults"]
    ]
    assert thresholds == [float(t) for t in range(5, 101, 5)]
    for result in [given, *moderation["AllConfidenceThresholdsEvalResults"]]:
        for label in result["LabelEvaluationResults"]:
            for model in ("BaseModel", "Adapter"):
                assert sum(label[model].values()) == details["NumberOfTestingImages"]
    adapter = given["AggregatedEvaluationResults"]["Adapter"]
    base = given["AggregatedEvaluationResults"]["BaseModel"]
    # without rules the base model finds nothing: every unsafe test image is a false negative
    assert base["TruePositive"] == base["FalsePositive"] == 0
    assert base["FalseNegative"] == 4  # 2 circles and 2 squares among the 8 test images
    assert adapter["TruePositive"] > 0 and adapter["FalseNegative"] < base["FalseNegative"]
    f1 = (
        2
        * adapter["TruePositive"]
        / (2 * adapter["TruePositive"] + adapter["FalsePositive"] + adapter["FalseNegative"])
    )
    assert evaluation["AggregatedEvaluationResults"]["F1Score"] == pytest.approx(f1)
    assert found["EvaluationResult"]["F1Score"] == pytest.approx(f1)
    at_100 = moderation["AllConfidenceThresholdsEvalResults"][-1]["AggregatedEvaluationResults"]
    assert at_100["Adapter"]["TruePositive"] == 0  # no confidence reaches 100


def test_the_output_manifests_and_the_summary(trained):
    client, s3 = trained["client"], trained["s3"]
    found = describe(client, trained["project"], "auto")
    train_location = found["TrainingDataResult"]["Output"]["Assets"][0]["GroundTruthManifest"]
    test_location = found["TestingDataResult"]["Output"]["Assets"][0]["GroundTruthManifest"]
    assert (
        train_location["S3Object"]["Name"]
        == "results/OutputManifest-train-moderation-auto.manifest"
    )  # noqa: E501
    train_lines = [json.loads(x) for x in read_json(s3, train_location).splitlines()]
    test_lines = [json.loads(x) for x in read_json(s3, test_location).splitlines()]
    assert (len(train_lines), len(test_lines)) == (32, 8)
    assert set(train_lines[0]) == {"source-ref", "content-moderation-groundtruth"}
    sources = {x["source-ref"] for x in train_lines + test_lines}
    assert len(sources) == 40
    for line in test_lines:
        adapter = line["detect-moderation-labels"]
        base = line["detect-moderation-labels-base-model"]
        assert adapter["ProjectVersion"] == trained["auto"]
        assert adapter["ModerationModelVersion"] == base["ModerationModelVersion"] == "7.0"
        assert "ProjectVersion" not in base and base["ModerationLabels"] == []
        assert all(label["Confidence"] >= 5.0 for label in adapter["ModerationLabels"])
        assert all(
            set(label) == {"Confidence", "Name", "ParentName"}
            for label in adapter["ModerationLabels"]
        )
    unsafe = [x for x in test_lines if x["content-moderation-groundtruth"]["ModerationLabels"]]
    named = [
        {label["Name"] for label in x["detect-moderation-labels"]["ModerationLabels"]}
        for x in unsafe
    ]
    truth = [
        {label["Name"] for label in x["content-moderation-groundtruth"]["ModerationLabels"]}
        for x in unsafe
    ]
    assert sum(t <= n for t, n in zip(truth, named, strict=True)) >= len(unsafe) - 1
    summary = json.loads(read_json(s3, found["ManifestSummary"]))
    assert summary == {
        "version": "1.0",
        "statistics": {"total-json-lines": 40, "valid-json-lines": 40, "invalid-json-lines": 0},
        "errors": [],
    }


def test_an_adapter_trained_with_a_testing_manifest(trained):
    client, s3 = trained["client"], trained["s3"]
    found = describe(client, trained["project"], "manual")
    assert found["Status"] == "TRAINING_COMPLETED"
    assert "FeatureConfig" not in found
    assert found["TestingDataResult"]["Input"]["Assets"][0]["GroundTruthManifest"] == {
        "S3Object": {"Bucket": BUCKET, "Name": "test.manifest"}
    }
    assert found["TestingDataResult"]["Output"]["AutoCreate"] is False
    evaluation = json.loads(read_json(s3, found["EvaluationResult"]["Summary"]))
    details = evaluation["EvaluationDetails"]
    assert (details["NumberOfTrainingImages"], details["NumberOfTestingImages"]) == (40, 12)
    assert (
        evaluation["ContentModeration"]["InputConfidenceThresholdEvalResults"][
            "ConfidenceThreshold"
        ]
        == 50.0
    )


def test_adapters_cannot_be_started_stopped_copied_or_used_by_detect_custom_labels(trained):
    client, version = trained["client"], trained["auto"]
    calls = [
        lambda: client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1),
        lambda: client.stop_project_version(ProjectVersionArn=version),
        lambda: client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": b"x"}),
        lambda: client.copy_project_version(
            SourceProjectArn=trained["project"],
            SourceProjectVersionArn=version,
            DestinationProjectArn=trained["project"],
            VersionName="copy",
            OutputConfig={"S3Bucket": BUCKET},
        ),
        lambda: client.create_dataset(ProjectArn=trained["project"], DatasetType="TRAIN"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)["Code"] == "InvalidParameterException"


# -- DetectModerationLabels -----------------------------------------------------------------------


def detect(client, data: bytes, **params) -> dict:
    found = client.detect_moderation_labels(Image={"Bytes": data}, **params)
    found.pop("ResponseMetadata")
    return found


def test_the_adapter_answers_its_categories(trained):
    client, version = trained["client"], trained["auto"]
    circle, _ = scene(9100, ["circle"])
    square, _ = scene(9101, ["square"])
    neither, _ = scene(9102, [])
    found = detect(client, circle, ProjectVersion=version)
    assert found["ProjectVersion"] == version
    assert found["ModerationModelVersion"] == "7.0" and found["ContentTypes"] == []
    [violence] = found["ModerationLabels"]
    assert violence["Name"] == "Violence"
    assert (violence["ParentName"], violence["TaxonomyLevel"]) == ("", 1)
    assert 50 <= violence["Confidence"] < 100
    assert [
        x["Name"] for x in detect(client, square, ProjectVersion=version)["ModerationLabels"]
    ] == ["Alcohol"]  # noqa: E501
    assert detect(client, neither, ProjectVersion=version)["ModerationLabels"] == []
    everything = detect(client, neither, ProjectVersion=version, MinConfidence=0)
    assert {x["Name"] for x in everything["ModerationLabels"]} == {"Alcohol", "Violence"}
    assert (
        detect(client, circle, ProjectVersion=version, MinConfidence=99.99)["ModerationLabels"]
        == []
    )  # noqa: E501
    # the same answer from S3 and from bytes, and for a repeated image
    trained["s3"].put_object(Bucket=BUCKET, Key="probe/circle.jpg", Body=circle)
    from_s3 = client.detect_moderation_labels(
        Image={"S3Object": {"Bucket": BUCKET, "Name": "probe/circle.jpg"}}, ProjectVersion=version
    )
    assert from_s3["ModerationLabels"] == found["ModerationLabels"]


def test_without_an_adapter_the_base_model_answers_its_rules(trained):
    client, server = trained["client"], trained["server"]
    image, _ = scene(9200, ["triangle"])
    plain = detect(client, image)
    assert plain == {"ModerationLabels": [], "ModerationModelVersion": "7.0", "ContentTypes": []}
    server.control(
        "POST",
        "rules",
        {
            "operation": "DetectModerationLabels",
            "match": {"sha256": hashlib.sha256(image).hexdigest()},
            "labels": [
                {"Name": "Smoking", "Confidence": 88.5},
                {"Name": "Weapons", "Confidence": 40},
            ],
            "content_types": [{"Name": "Illustrated", "Confidence": 97}],
        },
    )
    trained["s3"].put_object(Bucket=BUCKET, Key="probe/ruled.jpg", Body=_jpeg(300, 200))
    server.control(
        "POST",
        "rules",
        {
            "operation": "DetectModerationLabels",
            "match": {"s3_key": f"{BUCKET}/probe/ruled.jpg"},
            "labels": [{"Name": "Gambling", "Confidence": 99}],
        },
    )
    try:
        found = detect(client, image)
        assert found["ModerationLabels"] == [
            {
                "Confidence": 88.5,
                "Name": "Smoking",
                "ParentName": "Drugs & Tobacco Paraphernalia & Use",
                "TaxonomyLevel": 3,
            },  # noqa: E501
            {
                "Confidence": 88.5,
                "Name": "Drugs & Tobacco Paraphernalia & Use",
                "ParentName": "Drugs & Tobacco",
                "TaxonomyLevel": 2,
            },  # noqa: E501
            {"Confidence": 88.5, "Name": "Drugs & Tobacco", "ParentName": "", "TaxonomyLevel": 1},
        ]
        assert found["ContentTypes"] == [{"Confidence": 97.0, "Name": "Illustrated"}]
        assert "ProjectVersion" not in found
        lower = detect(client, image, MinConfidence=30)["ModerationLabels"]
        assert [x["Name"] for x in lower][3:] == ["Weapons", "Violence"]
        by_key = client.detect_moderation_labels(
            Image={"S3Object": {"Bucket": BUCKET, "Name": "probe/ruled.jpg"}}
        )
        assert by_key["ModerationLabels"] == [
            {"Confidence": 99.0, "Name": "Gambling", "ParentName": "", "TaxonomyLevel": 1}
        ]
        # with the adapter: the categories it did not learn still come from the base model
        with_adapter = detect(client, image, ProjectVersion=trained["auto"])
        assert [x["Name"] for x in with_adapter["ModerationLabels"]][:3] == [
            "Smoking",
            "Drugs & Tobacco Paraphernalia & Use",
            "Drugs & Tobacco",
        ]
        assert with_adapter["ContentTypes"] == found["ContentTypes"]
    finally:
        server.control("DELETE", "rules")


def test_the_adapter_overrides_the_base_model_for_its_categories(trained):
    client, server = trained["client"], trained["server"]
    square, _ = scene(9300, ["square"])
    server.control(
        "POST",
        "rules",
        {
            "operation": "DetectModerationLabels",
            "match": {"sha256": hashlib.sha256(square).hexdigest()},
            "labels": [{"Name": "Weapon Violence", "Confidence": 95}],
        },
    )
    try:
        base = detect(client, square)["ModerationLabels"]
        assert [x["Name"] for x in base] == ["Weapon Violence", "Graphic Violence", "Violence"]
        adapted = detect(client, square, ProjectVersion=trained["auto"], MinConfidence=0)
        confidence = {x["Name"]: x["Confidence"] for x in adapted["ModerationLabels"]}
        # the adapter learnt Violence: its confidence replaces the base model's, and the finer
        # labels under it are no surer than it is
        assert confidence["Violence"] < 50 < confidence["Alcohol"]
        assert confidence["Weapon Violence"] == confidence["Violence"]
        assert confidence["Graphic Violence"] == confidence["Violence"]
    finally:
        server.control("DELETE", "rules")


def test_human_loop_config_is_checked_and_accepted(trained):
    client = trained["client"]
    image, _ = scene(9400, [])
    found = client.detect_moderation_labels(
        Image={"Bytes": image},
        HumanLoopConfig={
            "HumanLoopName": "review-1",
            "FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f",
            "DataAttributes": {"ContentClassifiers": ["FreeOfAdultContent"]},
        },
    )
    assert "HumanLoopActivationOutput" not in found
    unvalidated = trained["server"].client(config_options={"parameter_validation": False})
    with pytest.raises(ClientError) as excinfo:
        unvalidated.detect_moderation_labels(
            Image={"Bytes": image},
            HumanLoopConfig={"HumanLoopName": "Not Valid", "FlowDefinitionArn": "arn"},
        )
    assert error_of(excinfo)["Code"] == "ValidationException"


@pytest.mark.parametrize(
    "image, code, message",
    [
        (
            {"Bytes": b"GIF89a not an image"},
            "InvalidImageFormatException",
            "Request has invalid image format",
        ),  # noqa: E501
        (
            {"Bytes": _jpeg(400, 300)[:300]},
            "InvalidImageFormatException",
            "Request has invalid image format",
        ),  # noqa: E501
        ({"Bytes": _jpeg(79, 300)}, "InvalidParameterException", "Request has Invalid Parameters"),
        ({"Bytes": _jpeg(10_001, 90)}, "ImageTooLargeException", "Image resolution is too large."),
        ({"S3Object": {"Bucket": BUCKET, "Name": "missing.jpg"}}, "InvalidS3ObjectException", None),
        (
            {"S3Object": {"Bucket": BUCKET, "Name": "big.jpg"}},
            "ImageTooLargeException",
            "Image size is too large.",
        ),  # noqa: E501
        ({"Bytes": b"x" * (5 * 1024 * 1024 + 1)}, "ValidationException", None),
        ({}, "InvalidParameterException", None),
    ],
)
def test_image_errors(trained, image, code, message):
    trained["s3"].put_object(
        Bucket=BUCKET, Key="big.jpg", Body=b"\xff\xd8\xff" + b"0" * (15 * 1024 * 1024)
    )  # noqa: E501
    for params in ({}, {"ProjectVersion": trained["auto"]}):
        with pytest.raises(ClientError) as excinfo:
            trained["server"].client(
                config_options={"parameter_validation": False}
            ).detect_moderation_labels(Image=image, **params)  # noqa: E501
        found = error_of(excinfo)
        assert (found["Code"], found["Status"]) == (code, 400)
        if message:
            assert found["Message"] == message


def test_a_wide_image_within_rekognition_images_limits_is_accepted(trained):
    wide = _jpeg(6000, 81)  # no aspect-ratio limit; sides from 80 to 10,000 pixels
    assert detect(trained["client"], wide, ProjectVersion=trained["auto"])["ProjectVersion"]


# -- errors of DetectModerationLabels about the adapter ------------------------------------------


def test_adapter_errors(fakerek, rekognition):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    image, _ = scene(9500, ["circle"])
    missing = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1234567890123"
    with pytest.raises(ClientError) as excinfo:
        detect(rekognition, image, ProjectVersion=missing)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    custom = rekognition.create_project(ProjectName="custom")["ProjectArn"]
    model = rekognition.create_project_version(
        ProjectArn=custom,
        VersionName="v1",
        OutputConfig={"S3Bucket": BUCKET},
        TrainingData=put_manifest(s3, "none.manifest", []),
        TestingData={"AutoCreate": True},
    )["ProjectVersionArn"]
    with pytest.raises(ClientError) as excinfo:
        detect(rekognition, image, ProjectVersion=model)
    assert error_of(excinfo)["Code"] == "InvalidParameterException"
    assert "not an adapter" in error_of(excinfo)["Message"]
    # a failed training, then one still training, then one being deleted: not ready
    project = adapter_project(rekognition)
    training = put_manifest(s3, "train.manifest", upload_images(s3, "train", 8, 100))
    fakerek.control("POST", "faults", {"training": {"code": "ERROR_MANIFEST_TOO_FEW_LABELS"}})
    failed = rekognition.create_project_version(
        ProjectArn=project, VersionName="failed", OutputConfig={"S3Bucket": BUCKET},
        TrainingData=training,
    )["ProjectVersionArn"]  # fmt: skip
    assert describe(rekognition, project, "failed")["Status"] == "TRAINING_FAILED"
    fakerek.configure(timing="realistic", delays={"training": 600, "deleting": 600})
    slow = rekognition.create_project_version(
        ProjectArn=project, VersionName="slow", OutputConfig={"S3Bucket": BUCKET},
        TrainingData=training,
    )["ProjectVersionArn"]  # fmt: skip
    rekognition.delete_project_version(ProjectVersionArn=failed)
    for arn, status in ((slow, "TRAINING_IN_PROGRESS"), (failed, "DELETING")):
        with pytest.raises(ClientError) as excinfo:
            detect(rekognition, image, ProjectVersion=arn)
        assert error_of(excinfo)["Code"] == "ResourceNotReadyException"
        assert error_of(excinfo)["Message"] == f"The adapter {arn} is {status}."
    with pytest.raises(ClientError) as excinfo:  # nor deleted while it trains
        rekognition.delete_project_version(ProjectVersionArn=slow)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"


@pytest.mark.parametrize(
    "error",
    [
        "AccessDeniedException",
        "HumanLoopQuotaExceededException",
        "InternalServerError",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
    ],
)
def test_the_other_modeled_errors_through_faults(fakerek, rekognition, error):
    fakerek.inject_fault("DetectModerationLabels", error)
    with pytest.raises(ClientError) as excinfo:
        detect(rekognition, _jpeg(100, 100))
    found = error_of(excinfo)
    assert found["Code"] == error
    assert found["Status"] == (
        500 if error in ("InternalServerError", "ThrottlingException") else 400
    )
    assert detect(rekognition, _jpeg(100, 100))["ModerationLabels"] == []


# -- CreateProjectVersion for adapters: refusals and failures ------------------------------------


def test_create_project_version_refusals(fakerek, rekognition, unvalidated):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    project = adapter_project(rekognition)
    training = put_manifest(s3, "train.manifest", upload_images(s3, "train", 4, 100))
    base = {"ProjectArn": project, "VersionName": "v1", "OutputConfig": {"S3Bucket": BUCKET}}
    refused = [
        ({}, "InvalidParameterException", "TrainingData"),
        (
            {"TrainingData": training, "TestingData": {**training, "AutoCreate": True}},
            "InvalidParameterException",
            "either one asset or AutoCreate",
        ),  # fmt: skip
        (
            {"TrainingData": training, "TestingData": {"AutoCreate": False}},
            "InvalidParameterException",
            "either one asset or AutoCreate",
        ),  # fmt: skip
        (
            {"TrainingData": training, "FeatureConfig": {}},
            "InvalidParameterException",
            "ContentModeration",
        ),  # fmt: skip
    ]
    for extra, code, words in refused:
        with pytest.raises(ClientError) as excinfo:
            rekognition.create_project_version(**base, **extra)
        assert (error_of(excinfo)["Code"], words in error_of(excinfo)["Message"]) == (code, True)
    with pytest.raises(ClientError) as excinfo:
        unvalidated.create_project_version(
            **base,
            TrainingData=training,
            FeatureConfig={"ContentModeration": {"ConfidenceThreshold": 101}},
        )
    assert error_of(excinfo)["Code"] == "ValidationException"
    rekognition.create_project_version(**base, TrainingData=training)
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project_version(**base, TrainingData=training)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"
    # FeatureConfig on a Custom Labels project, after the project is found
    custom = rekognition.create_project(ProjectName="custom")["ProjectArn"]
    feature = {"FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": 50}}}
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project_version(**{**base, "ProjectArn": custom}, **feature)
    assert error_of(excinfo)["Code"] == "InvalidParameterException"
    gone = custom.replace("custom", "gone")
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_project_version(**{**base, "ProjectArn": gone}, **feature)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "lines, code",
    [
        (None, "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"),
        (
            [ground_truth(f"s3://{BUCKET}/train/{i}.jpg", ["Nudity"]) for i in range(5)],
            "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
        ),  # fmt: skip
        (
            [ground_truth(f"s3://{BUCKET}/train/{i}.jpg", []) for i in range(5)],
            "ERROR_MANIFEST_TOO_FEW_LABELS",
        ),  # fmt: skip
        (
            [ground_truth(f"s3://{BUCKET}/train/0.jpg", ["Violence"])],
            "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT",
        ),  # fmt: skip
    ],
)
def test_failed_trainings_say_why(fakerek, rekognition, lines, code):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    upload_images(s3, "train", 5, 100)
    project = adapter_project(rekognition)
    training = (
        put_manifest(s3, "train.manifest", lines)
        if lines is not None
        else {
            "Assets": [
                {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "no.manifest"}}}
            ]
        }  # noqa: E501
    )
    rekognition.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET},
        TrainingData=training,
    )  # fmt: skip
    with pytest.raises(WaiterError):
        rekognition.get_waiter(TRAINING_WAITER).wait(ProjectArn=project)
    found = describe(rekognition, project, "v1")
    assert found["Status"] == "TRAINING_FAILED"
    assert found["StatusMessage"].startswith(f"{code}: ")
    assert "EvaluationResult" not in found and "BillableTrainingTimeInSeconds" not in found
    if lines is not None:
        summary = json.loads(read_json(s3, found["ManifestSummary"]))
        assert summary["failure"]["code"] == code


# -- the base model's lifecycle -------------------------------------------------------------------


def test_a_new_base_model_deprecates_then_expires_adapters(fakerek, rekognition):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    training = put_manifest(s3, "train.manifest", upload_images(s3, "train", 12, 4000))
    updated = adapter_project(rekognition, "updated", "ENABLED")
    kept = adapter_project(rekognition, "kept", "DISABLED")
    for project in (updated, kept):
        rekognition.create_project_version(
            ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET},
            TrainingData=training,
        )  # fmt: skip
        rekognition.get_waiter(TRAINING_WAITER).wait(ProjectArn=project)
    assert fakerek.control("GET", "moderation")["base_model_version"] == "7.0"
    with pytest.raises(ValueError, match="already released"):
        fakerek.control("POST", "moderation/release", {"version": "7.0"})
    released = fakerek.control("POST", "moderation/release", {"version": "7.1", "grace_days": 60})
    old = {describe(rekognition, p, "v1")["ProjectVersionArn"]: p for p in (updated, kept)}
    assert set(released["deprecated"]) == set(old)
    [retraining] = released["retraining"]  # AutoUpdate ENABLED only
    assert ":project/updated/version/v1-auto-1/" in retraining
    rekognition.get_waiter(TRAINING_WAITER).wait(ProjectArn=updated, VersionNames=["v1-auto-1"])
    auto = describe(rekognition, updated, "v1-auto-1")
    assert (auto["Status"], auto["BaseModelVersion"]) == ("TRAINING_COMPLETED", "7.1")
    image, _ = scene(9600, ["circle"])
    for arn, project in old.items():
        found = describe(rekognition, project, "v1")
        assert (found["Status"], found["BaseModelVersion"]) == ("DEPRECATED", "7.0")
        assert "can be used until" in found["StatusMessage"]
        answer = detect(rekognition, image, ProjectVersion=arn)  # still used in its grace period
        assert (answer["ProjectVersion"], answer["ModerationModelVersion"]) == (arn, "7.0")
    assert detect(rekognition, image)["ModerationModelVersion"] == "7.1"
    assert (
        len(rekognition.describe_project_versions(ProjectArn=kept)["ProjectVersionDescriptions"])
        == 1
    )  # noqa: E501
    expired = fakerek.control("POST", "moderation/expire", {})
    assert set(expired["expired"]) == set(old)
    for arn, project in old.items():
        assert describe(rekognition, project, "v1")["Status"] == "EXPIRED"
        answer = detect(rekognition, image, ProjectVersion=arn, MinConfidence=0)
        # ignored: the newest base model answers alone (nothing, without a rule)
        assert answer == {
            "ModerationLabels": [],
            "ModerationModelVersion": "7.1",
            "ContentTypes": [],
        }  # noqa: E501
        assert rekognition.delete_project_version(ProjectVersionArn=arn)["Status"] == "DELETING"
    state = fakerek.control("GET", "moderation")
    assert [r["version"] for r in state["releases"]] == ["7.1"]
    assert state["releases"][0]["grace_days"] == 60


@pytest.mark.parametrize(
    "body, words",
    [
        ({"version": "bad version"}, "letters, digits"),
        ({"version": "8.0", "grace_days": -1}, "grace_days"),
        ({"version": "8.0", "other": 1}, "the body is"),
    ],
)
def test_releases_that_are_refused(fakerek, body, words):
    with pytest.raises(ValueError, match=words):
        fakerek.control("POST", "moderation/release", body)
    assert fakerek.control("GET", "moderation")["base_model_version"] == "7.0"


def test_moderation_rules_are_checked(fakerek):
    with pytest.raises(ValueError, match="did you mean 'Rude Gestures'"):
        fakerek.control(
            "POST",
            "rules",
            {
                "operation": "DetectModerationLabels",
                "match": {"sha256": "0" * 64},
                "labels": [{"Name": "Rude Gesture", "Confidence": 90}],
            },
        )
    with pytest.raises(ValueError, match="Confidence"):
        fakerek.control(
            "POST",
            "rules",
            {
                "operation": "DetectModerationLabels",
                "match": {"sha256": "0" * 64},
                "labels": [{"Name": "Gambling", "Confidence": 190}],
            },
        )
    assert fakerek.control("GET", "rules") == {"rules": []}


def test_the_aws_cli_trains_lists_and_uses_an_adapter(trained):
    """The calls of the guide's adapter pages, through the AWS CLI (our own command lines)."""
    from test_cli import aws

    server = trained["server"]
    listed = aws(server, "describe-projects", "--features", "CONTENT_MODERATION")
    assert listed.returncode == 0, listed.stderr
    [project] = json.loads(listed.stdout)["ProjectDescriptions"]
    assert (project["Feature"], project["AutoUpdate"]) == ("CONTENT_MODERATION", "ENABLED")
    assert json.loads(aws(server, "describe-projects").stdout)["ProjectDescriptions"] == []
    created = aws(
        server,
        "create-project-version",
        "--project-arn", trained["project"],
        "--version-name", "from-the-cli",
        "--training-data", json.dumps(describe(trained["client"], trained["project"], "auto")["TrainingDataResult"]["Input"]),  # noqa: E501
        "--output-config", f"S3Bucket={BUCKET},S3KeyPrefix=cli-results",
        "--feature-config", "ContentModeration={ConfidenceThreshold=70}",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    described = aws(
        server, "describe-project-versions", "--project-arn", trained["project"],
        "--version-names", "from-the-cli",
    )  # fmt: skip
    [version] = json.loads(described.stdout)["ProjectVersionDescriptions"]
    assert version["Status"] == "TRAINING_COMPLETED"
    assert version["FeatureConfig"] == {"ContentModeration": {"ConfidenceThreshold": 70.0}}
    circle, _ = scene(9700, ["circle"])
    trained["s3"].put_object(Bucket=BUCKET, Key="cli/circle.jpg", Body=circle)
    detected = aws(
        server,
        "detect-moderation-labels",
        "--image", json.dumps({"S3Object": {"Bucket": BUCKET, "Name": "cli/circle.jpg"}}),
        "--project-version", version["ProjectVersionArn"],
    )  # fmt: skip
    assert detected.returncode == 0, detected.stderr
    answer = json.loads(detected.stdout)
    assert answer["ProjectVersion"] == version["ProjectVersionArn"]
    assert [label["Name"] for label in answer["ModerationLabels"]] == ["Violence"]
    deleted = aws(
        server, "delete-project-version", "--project-version-arn", version["ProjectVersionArn"]
    )  # noqa: E501
    assert json.loads(deleted.stdout) == {"Status": "DELETING"}


def test_another_accounts_adapter_does_not_exist_for_the_caller(trained):
    other = trained["server"].client(account="111122223333")
    image, _ = scene(9800, [])
    with pytest.raises(ClientError) as excinfo:
        detect(other, image, ProjectVersion=trained["auto"])
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"


def test_adapters_and_base_models_survive_a_restart(own_server):
    client, s3 = own_server.client(), own_server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    training = put_manifest(s3, "train.manifest", upload_images(s3, "train", 12, 4400))
    project = adapter_project(client, auto_update="DISABLED")
    arn = client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET},
        TrainingData=training,
    )["ProjectVersionArn"]  # fmt: skip
    client.get_waiter(TRAINING_WAITER).wait(ProjectArn=project)
    image, _ = scene(9900, ["circle"])
    before = detect(client, image, ProjectVersion=arn, MinConfidence=0)
    own_server.control("POST", "moderation/release", {"version": "8.0"})
    own_server.restart()
    client = own_server.client()
    found = describe(client, project, "v1")
    assert (found["Status"], found["BaseModelVersion"]) == ("DEPRECATED", "7.0")
    assert detect(client, image, ProjectVersion=arn, MinConfidence=0) == before
    assert detect(client, image)["ModerationModelVersion"] == "8.0"
    assert own_server.control("GET", "moderation")["base_model_version"] == "8.0"


def test_the_grace_period_runs_on_the_servers_clock(fakerek, rekognition):
    """Realistic timing and a frozen clock: the training lasts its delay, and the adapter
    expires when the clock passes the end of its grace period, not before."""
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    training = put_manifest(s3, "train.manifest", upload_images(s3, "train", 12, 4600))
    project = adapter_project(rekognition, auto_update="DISABLED")
    fakerek.configure(timing="realistic", delays={"training": 3600})
    fakerek.freeze()
    arn = rekognition.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET},
        TrainingData=training,
    )["ProjectVersionArn"]  # fmt: skip
    assert describe(rekognition, project, "v1")["Status"] == "TRAINING_IN_PROGRESS"
    fakerek.advance(3600)
    trained = describe(rekognition, project, "v1")
    assert trained["Status"] == "TRAINING_COMPLETED"
    assert trained["BillableTrainingTimeInSeconds"] == 3600
    fakerek.control("POST", "moderation/release", {"version": "7.1", "grace_days": 60})
    image, _ = scene(9950, ["circle"])
    fakerek.advance(59 * 86_400)
    assert describe(rekognition, project, "v1")["Status"] == "DEPRECATED"
    assert detect(rekognition, image, ProjectVersion=arn)["ProjectVersion"] == arn
    fakerek.advance(86_400)
    assert describe(rekognition, project, "v1")["Status"] == "EXPIRED"
    assert "ProjectVersion" not in detect(rekognition, image, ProjectVersion=arn)


def test_an_adapters_evaluation_is_dated_by_the_servers_clock(fakerek, rekognition):
    """The evaluation file's end time is the server's clock's, as the version's timestamps
    are: a day ahead when the test moved it so."""
    import datetime as dt

    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    training = put_manifest(s3, "train.manifest", upload_images(s3, "train", 12, 4700))
    project = adapter_project(rekognition, auto_update="DISABLED")
    fakerek.freeze()
    now = fakerek.advance(86_400)
    rekognition.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": BUCKET},
        TrainingData=training,
    )  # fmt: skip
    found = describe(rekognition, project, "v1")  # instant timing: trained
    assert found["Status"] == "TRAINING_COMPLETED"
    summary = json.loads(read_json(s3, found["EvaluationResult"]["Summary"]))
    ended = dt.datetime.fromisoformat(summary["EvaluationDetails"]["EvaluationEndTimestamp"])
    assert abs(ended.timestamp() - now) < 0.002
