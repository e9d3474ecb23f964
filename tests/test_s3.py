"""The embedded S3: both addressing styles, durability across restarts, reset."""

from __future__ import annotations

import io

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from conftest import virtual_host_s3

from fakerek.testing import FakerekServer


def test_path_style_round_trip_with_rekognition_on_the_same_port(fakerek):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="cats/é 1.jpg", Body=b"\xff\xd8\xff data")
    assert s3.get_object(Bucket="images", Key="cats/é 1.jpg")["Body"].read() == b"\xff\xd8\xff data"
    assert fakerek.client().describe_projects()["ProjectDescriptions"] == []
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket="images", Key="missing.jpg")
    assert excinfo.value.response["Error"]["Code"] == "NoSuchKey"


def test_virtual_host_style(fakerek):
    s3 = virtual_host_s3(fakerek)
    s3.create_bucket(Bucket="vhost-bucket")
    s3.put_object(Bucket="vhost-bucket", Key="k.txt", Body=b"virtual")
    plain = fakerek.client("s3")
    assert plain.get_object(Bucket="vhost-bucket", Key="k.txt")["Body"].read() == b"virtual"
    assert s3.get_object(Bucket="vhost-bucket", Key="k.txt")["Body"].read() == b"virtual"


def test_s3_select(fakerek):
    """moto answers SelectObjectContent with py-partiql-parser, which its `s3` extra brings."""
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket="tables")
    s3.put_object(Bucket="tables", Key="t.csv", Body=b"name,count\ncat,2\ndog,5\n")
    answer = s3.select_object_content(
        Bucket="tables",
        Key="t.csv",
        Expression="SELECT * FROM S3Object",
        ExpressionType="SQL",
        InputSerialization={"CSV": {"FileHeaderInfo": "USE"}},
        OutputSerialization={"JSON": {}},
    )
    records = b"".join(e["Records"]["Payload"] for e in answer["Payload"] if "Records" in e)
    cat, dog = '{"name":"cat","count":"2"}', '{"name":"dog","count":"5"}'
    assert records.decode().split()[:2] == [cat, dog]


def test_objects_survive_restarts_and_deletions_too(own_server):
    s3 = own_server.client("s3")
    s3.create_bucket(Bucket="keep")
    s3.create_bucket(Bucket="drop")
    s3.put_object(
        Bucket="keep", Key="a.txt", Body=b"A", Metadata={"owner": "me"}, ContentType="text/plain"
    )
    s3.put_object(Bucket="keep", Key="b.txt", Body=b"A")  # same bytes, one blob
    s3.put_object(Bucket="keep", Key="c.txt", Body=b"C")
    big = bytes(range(256)) * 40_000  # 10 MB through a multipart upload
    s3.upload_fileobj(
        io.BytesIO(big),
        "keep",
        "big.bin",
        Config=TransferConfig(multipart_threshold=5 * 1024 * 1024),
    )
    s3.delete_object(Bucket="keep", Key="b.txt")
    s3.delete_objects(Bucket="keep", Delete={"Objects": [{"Key": "c.txt"}]})
    s3.delete_bucket(Bucket="drop")
    own_server.restart()
    s3 = own_server.client("s3")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["keep"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="keep")["Contents"]] == ["a.txt", "big.bin"]
    a = s3.get_object(Bucket="keep", Key="a.txt")
    metadata = {k.lower(): v for k, v in a["Metadata"].items()}  # moto's server title-cases keys
    assert (a["Body"].read(), metadata, a["ContentType"]) == (b"A", {"owner": "me"}, "text/plain")
    assert s3.get_object(Bucket="keep", Key="big.bin")["Body"].read() == big


def test_reset_empties_s3(fakerek):
    s3 = fakerek.client("s3")
    s3.create_bucket(Bucket="gone")
    s3.put_object(Bucket="gone", Key="x", Body=b"x")
    fakerek.reset()
    assert fakerek.client("s3").list_buckets()["Buckets"] == []


def test_missing_target_with_json_content_type_is_rekognition(fakerek):
    from conftest import raw_call

    status, _, body = raw_call(fakerek.endpoint, None, "{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_empty_objects_then_more_requests_on_the_same_connection(fakerek):
    s3 = fakerek.client("s3", config_options={"read_timeout": 10})
    s3.create_bucket(Bucket="empties")
    s3.put_object(Bucket="empties", Key="empty", Body=b"")
    s3.put_object(Bucket="empties", Key="full", Body=b"abc")
    assert s3.get_object(Bucket="empties", Key="empty")["ContentLength"] == 0
    assert s3.get_object(Bucket="empties", Key="full")["Body"].read() == b"abc"


def test_an_external_s3_endpoint(tmp_path, moto_endpoint):
    external = moto_endpoint
    with FakerekServer(str(tmp_path / "data"), args=["--s3-endpoint-url", external]) as ours:
        s3 = ours.client("s3", endpoint_url=external)
        s3.create_bucket(Bucket="outside")
        line = (
            '{"source-ref": "s3://outside/a.jpg", "x": 0, "x-metadata": {"class-name": '
            '"cat", "confidence": 1, "type": "groundtruth/image-classification", '
            '"human-annotated": "yes", "creation-date": "2024-01-01"}}\n'
        )
        s3.put_object(Bucket="outside", Key="m.manifest", Body=line)
        rekognition = ours.client()
        project = rekognition.create_project(ProjectName="p")["ProjectArn"]
        for kind, key in (("TRAIN", "m.manifest"), ("TEST", "none.manifest")):
            rekognition.create_dataset(
                ProjectArn=project,
                DatasetType=kind,
                DatasetSource={
                    "GroundTruthManifest": {"S3Object": {"Bucket": "outside", "Name": key}}
                },
            )
        train, test = rekognition.describe_projects()["ProjectDescriptions"][0]["Datasets"]
        assert train["Status"] == "CREATE_COMPLETE"
        assert test["StatusMessage"] == "The manifest file extension or contents are invalid."
        with pytest.raises(ClientError):  # fakerek's own port serves no S3 now
            ours.client("s3").list_buckets()
