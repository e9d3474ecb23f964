"""Dataset operations: creation modes, status and stats, listing, updates, splits, deletion."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError
from conftest import error_of
from manifests import BUCKET, box_line, image_line, manifest

from fakerek.testing import FakerekServer

LINES = [image_line(f"img{i:02d}.jpg", ["cat", "dog", "bird"][i % 3]) for i in range(10)]


@pytest.fixture
def s3(fakerek):
    client = fakerek.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def project(rekognition, s3):
    return rekognition.create_project(ProjectName="ds")["ProjectArn"]


def from_manifest(rekognition, s3, project, lines, kind="TRAIN", key="train.manifest", **kw):
    s3.put_object(Bucket=BUCKET, Key=key, Body=manifest(lines))
    return rekognition.create_dataset(
        ProjectArn=project,
        DatasetType=kind,
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}},
        **kw,
    )["DatasetArn"]


def entries(rekognition, dataset, **filters):
    pages = rekognition.get_paginator("list_dataset_entries").paginate(
        DatasetArn=dataset, **filters
    )
    return [json.loads(e) for page in pages for e in page["DatasetEntries"]]


def refs(found):
    return [e["source-ref"].rsplit("/", 1)[1] for e in found]


def test_arn_status_and_stats(rekognition, s3, project):
    dataset = from_manifest(rekognition, s3, project, LINES)
    match = re.fullmatch(
        r"arn:aws:rekognition:us-east-1:123456789012:project/ds/dataset/train/"
        r"(\d{13})",
        dataset,
    )
    assert match
    found = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert found["Status"] == "CREATE_COMPLETE"
    assert found["StatusMessage"] == "The dataset was successfully created from the manifest file."
    assert found["StatusMessageCode"] == "SUCCESS"
    assert round(found["CreationTimestamp"].timestamp() * 1000) == int(match[1])
    assert found["LastUpdatedTimestamp"] >= found["CreationTimestamp"]
    assert found["DatasetStats"] == {
        "LabeledEntries": 10,
        "TotalEntries": 10,
        "TotalLabels": 3,
        "ErrorEntries": 0,
    }
    [listed] = rekognition.describe_projects()["ProjectDescriptions"][0]["Datasets"]
    assert listed == {
        "CreationTimestamp": found["CreationTimestamp"],
        "DatasetType": "TRAIN",
        "DatasetArn": dataset,
        "Status": "CREATE_COMPLETE",
        "StatusMessage": "The dataset was successfully created from the manifest file.",
        "StatusMessageCode": "SUCCESS",
    }


def test_empty_dataset_and_one_per_type(rekognition, project):
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST", DatasetSource={})[
        "DatasetArn"
    ]
    assert "/dataset/test/" in test
    stats = rekognition.describe_dataset(DatasetArn=test)["DatasetDescription"]["DatasetStats"]
    assert stats["TotalEntries"] == 0
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")
    assert error_of(excinfo)["Code"] == "ResourceAlreadyExistsException"
    train = rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    kinds = [
        d["DatasetType"]
        for d in rekognition.describe_projects()["ProjectDescriptions"][0]["Datasets"]
    ]
    assert kinds == ["TRAIN", "TEST"] and train != test


@pytest.mark.parametrize(
    "source, code",
    [
        (
            {
                "GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": "a.manifest"}},
                "DatasetArn": (
                    "arn:aws:rekognition:us-east-1:123456789012:project/ds/dataset/train/1"
                ),
            },
            "InvalidParameterException",
        ),
        ({"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET}}}, "InvalidParameterException"),
        ({"GroundTruthManifest": {}}, "InvalidParameterException"),
        (
            {"DatasetArn": "arn:aws:rekognition:us-east-1:123456789012:project/ds/dataset/train/1"},
            "ResourceNotFoundException",
        ),
    ],
)
def test_bad_sources(rekognition, project, source, code):
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source)
    assert error_of(excinfo)["Code"] == code


def test_create_errors(rekognition, project):
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_dataset(
            ProjectArn=project.rsplit("/", 1)[0] + "/1000000000000", DatasetType="TRAIN"
        )
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_dataset(ProjectArn=project, DatasetType="TRAINING")
    assert "enum value set: [TRAIN, TEST]" in error_of(excinfo)["Message"]
    adapter = rekognition.create_project(
        ProjectName="ad", Feature="CONTENT_MODERATION", AutoUpdate="ENABLED"
    )["ProjectArn"]
    with pytest.raises(ClientError) as excinfo:
        rekognition.create_dataset(ProjectArn=adapter, DatasetType="TRAIN")
    assert error_of(excinfo)["Code"] == "InvalidParameterException"


def test_copy_of_another_projects_dataset(rekognition, s3, project):
    source = from_manifest(rekognition, s3, project, LINES)
    other = rekognition.create_project(ProjectName="other")["ProjectArn"]
    copy = rekognition.create_dataset(
        ProjectArn=other, DatasetType="TEST", DatasetSource={"DatasetArn": source}
    )["DatasetArn"]
    assert entries(rekognition, copy) == entries(rekognition, source)
    stats = rekognition.describe_dataset(DatasetArn=copy)["DatasetDescription"]["DatasetStats"]
    assert stats["TotalEntries"] == 10 and stats["TotalLabels"] == 3


def test_filters_and_pages(rekognition, s3, project):
    lines = [
        *LINES,
        {"source-ref": f"s3://{BUCKET}/plain.jpg"},
        box_line("boxes.jpg", [("cat", (1, 1, 50, 50)), ("car", (900, 1, 5, 5))]),
    ]
    dataset = from_manifest(rekognition, s3, project, lines)
    assert len(entries(rekognition, dataset)) == 12
    assert refs(entries(rekognition, dataset, ContainsLabels=["bird", "car"])) == [
        "img02.jpg",
        "img05.jpg",
        "img08.jpg",
    ]
    assert refs(entries(rekognition, dataset, ContainsLabels=["cat"]))[-1] == "boxes.jpg"
    assert refs(entries(rekognition, dataset, Labeled=False)) == ["plain.jpg"]
    assert len(entries(rekognition, dataset, Labeled=True)) == 11
    assert refs(entries(rekognition, dataset, HasErrors=True)) == ["boxes.jpg"]
    assert len(entries(rekognition, dataset, HasErrors=False)) == 12
    assert refs(entries(rekognition, dataset, SourceRefContains="img0")) == [
        f"img0{i}.jpg" for i in range(10)
    ]
    first = rekognition.list_dataset_entries(DatasetArn=dataset, MaxResults=5, NextToken="")
    assert len(first["DatasetEntries"]) == 5 and first["NextToken"]
    one_by_one = []
    token = ""
    while True:
        page = rekognition.list_dataset_entries(DatasetArn=dataset, MaxResults=1, NextToken=token)
        one_by_one += page["DatasetEntries"]
        if "NextToken" not in page:
            break
        token = page["NextToken"]
    assert len(one_by_one) == 12
    with pytest.raises(ClientError) as excinfo:
        rekognition.list_dataset_entries(
            DatasetArn=dataset, NextToken=first["NextToken"], Labeled=True
        )
    assert error_of(excinfo)["Code"] == "InvalidPaginationTokenException"
    entry = json.loads(first["DatasetEntries"][0])
    assert entry["cl-metadata"] == {"is_labeled": True} and "cl-errors" not in entry


def test_labels(rekognition, s3, project):
    lines = [*LINES, box_line("boxes.jpg", [("cat", (1, 1, 50, 50)), ("cat", (60, 1, 50, 50))])]
    dataset = from_manifest(rekognition, s3, project, lines)
    described = rekognition.list_dataset_labels(DatasetArn=dataset)["DatasetLabelDescriptions"]
    assert described == [
        {"LabelName": "bird", "LabelStats": {"EntryCount": 3}},  # image-level: no box count
        {"LabelName": "cat", "LabelStats": {"EntryCount": 5, "BoundingBoxCount": 1}},
        {"LabelName": "dog", "LabelStats": {"EntryCount": 3}},
    ]
    pages = rekognition.get_paginator("list_dataset_labels").paginate(
        DatasetArn=dataset, PaginationConfig={"PageSize": 2}
    )
    assert [d["LabelName"] for p in pages for d in p["DatasetLabelDescriptions"]] == [
        "bird",
        "cat",
        "dog",
    ]


def test_update_replaces_by_source_ref_and_appends(rekognition, s3, project):
    dataset = from_manifest(rekognition, s3, project, LINES[:3])
    changes = manifest(
        [
            image_line("img01.jpg", "fish"),
            {"source-ref": LINES[2]["source-ref"]},
            image_line("new.jpg", "cat"),
        ]
    )
    before = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    rekognition.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": changes})
    after = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert after["Status"] == "UPDATE_COMPLETE"
    assert after["StatusMessage"] == "The dataset was successfully updated."
    assert after["LastUpdatedTimestamp"] > before["LastUpdatedTimestamp"]
    assert after["CreationTimestamp"] == before["CreationTimestamp"]
    found = entries(rekognition, dataset)
    assert refs(found) == ["img00.jpg", "img01.jpg", "img02.jpg", "new.jpg"]
    assert found[1]["label0-metadata"]["class-name"] == "fish"
    assert found[2]["cl-metadata"] == {"is_labeled": False}
    labels = rekognition.list_dataset_labels(DatasetArn=dataset)["DatasetLabelDescriptions"]
    assert [d["LabelName"] for d in labels] == ["cat", "fish"]  # "bird" and "dog" are gone
    assert after["DatasetStats"] == {
        "LabeledEntries": 3,
        "TotalEntries": 4,
        "TotalLabels": 2,
        "ErrorEntries": 0,
    }


def test_an_edited_entry_can_be_sent_back(rekognition, s3, project):
    dataset = from_manifest(
        rekognition,
        s3,
        project,
        [*LINES, box_line("boxes.jpg", [("cat", (1, 1, 50, 50)), ("car", (900, 1, 5, 5))])],
    )
    [entry] = entries(rekognition, dataset, HasErrors=True)
    entry["bounding-box"]["annotations"][1]["left"] = 700
    rekognition.update_dataset_entries(
        DatasetArn=dataset, Changes={"GroundTruth": json.dumps(entry)}
    )
    assert entries(rekognition, dataset, HasErrors=True) == []
    assert len(entries(rekognition, dataset)) == 11


def test_failed_update_keeps_the_previous_entries(fakerek, rekognition, s3, project):
    dataset = from_manifest(rekognition, s3, project, LINES)
    fakerek.configure(manifest_max_labels=3)
    rekognition.update_dataset_entries(
        DatasetArn=dataset, Changes={"GroundTruth": json.dumps(image_line("x.jpg", "fish"))}
    )
    found = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert found["Status"] == "UPDATE_FAILED"
    assert found["StatusMessage"] == "The manifest file has too many labels."
    assert found["StatusMessageCode"] == "CLIENT_ERROR"
    assert found["DatasetStats"]["TotalEntries"] == 10
    assert len(entries(rekognition, dataset)) == 10
    rekognition.update_dataset_entries(
        DatasetArn=dataset,
        Changes={  # UPDATE_FAILED may update
            "GroundTruth": json.dumps(image_line("x.jpg", "cat"))
        },
    )
    assert len(entries(rekognition, dataset)) == 11


@pytest.mark.parametrize(
    "blob, code",
    [
        (b"\xff\xfe", "InvalidParameterException"),
        (b"  \n ", "InvalidParameterException"),
    ],
)
def test_update_rejects_unusable_changes(rekognition, project, blob, code):
    dataset = rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    with pytest.raises(ClientError) as excinfo:
        rekognition.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": blob})
    assert error_of(excinfo)["Code"] == code


def test_update_size_limit_is_a_validation_error(rekognition, project):
    dataset = rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    with pytest.raises(ClientError) as excinfo:
        rekognition.update_dataset_entries(
            DatasetArn=dataset, Changes={"GroundTruth": b"x" * (5 * 1024 * 1024 + 1)}
        )
    assert "Member must have length less than or equal to 5242880" in error_of(excinfo)["Message"]


def test_distribute_moves_a_stratified_fifth(rekognition, s3, project):
    train = from_manifest(rekognition, s3, project, LINES)
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    rekognition.distribute_dataset_entries(Datasets=[{"Arn": test}, {"Arn": train}])
    moved = entries(rekognition, test)
    kept = entries(rekognition, train)
    assert len(moved) == 2 and len(kept) == 8
    assert set(refs(moved)).isdisjoint(refs(kept))
    for arn in (train, test):
        assert (
            rekognition.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"]
            == "UPDATE_COMPLETE"
        )
    with pytest.raises(ClientError) as excinfo:  # the test dataset is no longer empty
        rekognition.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    assert error_of(excinfo)["Code"] == "InvalidParameterException"


def test_distribute_argument_errors(rekognition, unvalidated, project):
    train = rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    other = rekognition.create_project(ProjectName="other")["ProjectArn"]
    foreign = rekognition.create_dataset(ProjectArn=other, DatasetType="TEST")["DatasetArn"]
    for pair, code in (
        ([train, train], "InvalidParameterException"),
        ([train, foreign], "InvalidParameterException"),
        ([train, foreign.rsplit("/", 1)[0] + "/1000000000000"], "ResourceNotFoundException"),
    ):
        with pytest.raises(ClientError) as excinfo:
            rekognition.distribute_dataset_entries(Datasets=[{"Arn": a} for a in pair])
        assert error_of(excinfo)["Code"] == code
    with pytest.raises(ClientError) as excinfo:
        unvalidated.distribute_dataset_entries(Datasets=[{"Arn": train}])
    assert error_of(excinfo)["Message"] == (
        f"1 validation error detected: Value '[{{Arn={train}}}]' at 'datasets' failed to satisfy "
        "constraint: Member must have length greater than or equal to 2"
    )


def test_delete_and_project_deletion_guard(rekognition, s3, project):
    dataset = from_manifest(rekognition, s3, project, LINES, Tags={"team": "cv"})
    assert rekognition.list_tags_for_resource(ResourceArn=dataset)["Tags"] == {"team": "cv"}
    rekognition.tag_resource(ResourceArn=dataset, Tags={"more": "x"})
    with pytest.raises(ClientError) as excinfo:
        rekognition.delete_project(ProjectArn=project)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"
    assert (
        rekognition.delete_dataset(DatasetArn=dataset)["ResponseMetadata"]["HTTPStatusCode"] == 200
    )
    for call in (
        lambda: rekognition.describe_dataset(DatasetArn=dataset),
        lambda: rekognition.list_dataset_entries(DatasetArn=dataset),
        lambda: rekognition.delete_dataset(DatasetArn=dataset),
        lambda: rekognition.list_tags_for_resource(ResourceArn=dataset),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)["Code"] == "ResourceNotFoundException"
    assert rekognition.describe_projects()["ProjectDescriptions"][0]["Datasets"] == []
    again = rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    assert entries(rekognition, again) == []
    rekognition.delete_dataset(DatasetArn=again)
    assert rekognition.delete_project(ProjectArn=project)["Status"] == "DELETING"


def test_realistic_timing_shows_every_phase(fakerek, rekognition, s3, project):
    fakerek.configure(timing="realistic", delays={"dataset": 2.5, "deleting": 2.5})
    dataset = from_manifest(rekognition, s3, project, LINES)

    def status():
        return rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]["Status"]

    def wait_for(expected):
        deadline = time.time() + 20
        while status() != expected and time.time() < deadline:
            time.sleep(0.1)
        assert status() == expected

    assert status() == "CREATE_IN_PROGRESS"
    with pytest.raises(ClientError) as excinfo:
        rekognition.list_dataset_entries(DatasetArn=dataset)
    assert error_of(excinfo)["Code"] == "ResourceNotReadyException"
    with pytest.raises(ClientError) as excinfo:
        rekognition.delete_dataset(DatasetArn=dataset)
    assert error_of(excinfo)["Code"] == "ResourceInUseException"
    wait_for("CREATE_COMPLETE")
    rekognition.update_dataset_entries(
        DatasetArn=dataset, Changes={"GroundTruth": json.dumps(image_line("x.jpg", "cat"))}
    )
    found = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert (found["Status"], found["StatusMessage"]) == (
        "UPDATE_IN_PROGRESS",
        "The dataset is being updated.",
    )
    assert found["DatasetStats"]["TotalEntries"] == 10
    for call, code in (
        (lambda: rekognition.list_dataset_entries(DatasetArn=dataset), "ResourceInUseException"),
        (
            lambda: rekognition.update_dataset_entries(
                DatasetArn=dataset, Changes={"GroundTruth": "{}"}
            ),
            "ResourceInUseException",
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)["Code"] == code
    wait_for("UPDATE_COMPLETE")
    rekognition.delete_dataset(DatasetArn=dataset)
    assert status() == "DELETE_IN_PROGRESS"
    assert (
        rekognition.delete_dataset(DatasetArn=dataset)["ResponseMetadata"]["HTTPStatusCode"] == 200
    )


def test_datasets_survive_a_restart(tmp_path):
    with FakerekServer(str(tmp_path / "data")) as server:
        s3 = server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        client = server.client()
        project = client.create_project(ProjectName="p")["ProjectArn"]
        dataset = from_manifest(client, s3, project, LINES)
        before = entries(client, dataset)
        server.restart()
        client = server.client()
        assert entries(client, dataset) == before
        assert (
            client.describe_dataset(DatasetArn=dataset)["DatasetDescription"]["Status"]
            == "CREATE_COMPLETE"
        )


def test_an_import_cut_by_a_crash_fails_with_a_service_error(tmp_path):
    big = [image_line(f"many{i}.jpg", f"l{i % 5}") for i in range(40_000)]
    with FakerekServer(str(tmp_path / "data")) as server:
        s3 = server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        client = server.client()
        project = client.create_project(ProjectName="p")["ProjectArn"]
        server.configure(timing="realistic", delays={"dataset": 0})
        dataset = from_manifest(client, s3, project, big)
        time.sleep(0.3)
        server.kill()
        server.start()
        found = server.client().describe_dataset(DatasetArn=dataset)["DatasetDescription"]
        if found["Status"] == "CREATE_COMPLETE":  # the machine was fast enough: nothing to cut
            assert found["DatasetStats"]["TotalEntries"] == 40_000
        else:
            assert found["Status"] == "CREATE_FAILED"
            assert found["StatusMessageCode"] == "SERVICE_ERROR"
            assert found["DatasetStats"]["TotalEntries"] == 0


def test_limits_are_settings(fakerek, rekognition, s3, project):
    fakerek.configure(max_boxes_per_image=1, manifest_max_line_chars=800)
    two_boxes = box_line("two.jpg", [("car", (1, 1, 10, 10)), ("car", (20, 20, 10, 10))])
    long_line = {**image_line("long.jpg", "cat"), "note": "x" * 1000}
    dataset = from_manifest(rekognition, s3, project, [*LINES, two_boxes, long_line])
    assert refs(entries(rekognition, dataset, HasErrors=True)) == ["two.jpg"]
    assert "long.jpg" not in refs(entries(rekognition, dataset))


def test_small_regions_hold_fewer_entries(fakerek):
    mumbai = fakerek.client(region="ap-south-1")
    s3 = fakerek.client("s3", region="ap-south-1")
    s3.create_bucket(
        Bucket="mumbai-images", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"}
    )
    project = mumbai.create_project(ProjectName="p")["ProjectArn"]
    lines = [image_line(f"i{i}.jpg", "cat", bucket="mumbai-images") for i in range(7_001)]
    s3.put_object(Bucket="mumbai-images", Key="test.manifest", Body=manifest(lines))
    dataset = mumbai.create_dataset(
        ProjectArn=project,
        DatasetType="TEST",
        DatasetSource={
            "GroundTruthManifest": {
                "S3Object": {"Bucket": "mumbai-images", "Name": "test.manifest"}
            }
        },
    )["DatasetArn"]
    found = mumbai.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert found["StatusMessage"] == "The manifest file has too many rows."
