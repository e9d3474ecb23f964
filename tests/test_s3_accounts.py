"""Issue 18 item 7: the embedded S3's buckets belong to accounts (the account a request's access
key stands for), as on S3: another account is refused the bucket and its objects, cannot take
its name, does not see it listed; ownership survives restarts; Rekognition reads S3 as its
caller's account."""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import error_of
from images import scene
from manifests import image_line, manifest

from fakerek.api import sigv4
from fakerek.store.db import DB_NAME

OWNER, OTHER = "111111111111", "222222222222"


@pytest.fixture
def clients(fakerek):
    """S3 clients of two accounts; the owner's bucket `owned` holds `a.txt`."""
    owner, other = fakerek.client("s3", account=OWNER), fakerek.client("s3", account=OTHER)
    owner.create_bucket(Bucket="owned")
    owner.put_object(Bucket="owned", Key="a.txt", Body=b"mine")
    other.create_bucket(Bucket="theirs")
    other.put_object(Bucket="theirs", Key="b.txt", Body=b"theirs")
    return owner, other


def _refused(call, code: str = "AccessDenied", status: int = 403) -> dict:
    with pytest.raises(ClientError) as excinfo:
        call()
    error = error_of(excinfo)
    assert (error["Code"], error["Status"]) == (code, status), error
    return error


def test_another_account_is_refused_the_bucket_and_its_objects(clients):
    owner, other = clients
    upload = owner.create_multipart_upload(Bucket="owned", Key="big")["UploadId"]
    refusals = {
        "GET": lambda: other.get_object(Bucket="owned", Key="a.txt"),
        "GET missing key": lambda: other.get_object(Bucket="owned", Key="nothing"),
        "PUT": lambda: other.put_object(Bucket="owned", Key="b.txt", Body=b"x"),
        "DELETE": lambda: other.delete_object(Bucket="owned", Key="a.txt"),
        "DeleteObjects": lambda: other.delete_objects(
            Bucket="owned", Delete={"Objects": [{"Key": "a.txt"}]}
        ),
        "ListObjectsV2": lambda: other.list_objects_v2(Bucket="owned"),
        "ListObjects": lambda: other.list_objects(Bucket="owned"),
        "ListObjectVersions": lambda: other.list_object_versions(Bucket="owned"),
        "copy from": lambda: other.copy_object(
            Bucket="theirs", Key="copy", CopySource={"Bucket": "owned", "Key": "a.txt"}
        ),
        "copy into": lambda: other.copy_object(
            Bucket="owned", Key="copy", CopySource={"Bucket": "theirs", "Key": "b.txt"}
        ),
        "CreateMultipartUpload": lambda: other.create_multipart_upload(Bucket="owned", Key="m"),
        "UploadPart": lambda: other.upload_part(
            Bucket="owned", Key="big", UploadId=upload, PartNumber=1, Body=b"x"
        ),
        "UploadPartCopy": lambda: other.upload_part_copy(
            Bucket="theirs",
            Key="big",
            UploadId=other.create_multipart_upload(Bucket="theirs", Key="big")["UploadId"],
            PartNumber=1,
            CopySource={"Bucket": "owned", "Key": "a.txt"},
        ),
        "ListMultipartUploads": lambda: other.list_multipart_uploads(Bucket="owned"),
        "GetBucketLocation": lambda: other.get_bucket_location(Bucket="owned"),
        "PutBucketVersioning": lambda: other.put_bucket_versioning(
            Bucket="owned", VersioningConfiguration={"Status": "Enabled"}
        ),
        "DeleteBucket": lambda: other.delete_bucket(Bucket="owned"),
    }
    for name, call in refusals.items():
        error = _refused(call)
        assert error["Message"] == "Access Denied", name
    for call in (
        lambda: other.head_object(Bucket="owned", Key="a.txt"),
        lambda: other.head_bucket(Bucket="owned"),
    ):
        _refused(call, "403")  # HEAD answers carry no body: the SDK names the status
    # nothing changed, and the owner is served as before
    assert owner.get_object(Bucket="owned", Key="a.txt")["Body"].read() == b"mine"
    listed = owner.list_objects_v2(Bucket="owned")["Contents"]
    assert [item["Key"] for item in listed] == ["a.txt"]
    owner.abort_multipart_upload(Bucket="owned", Key="big", UploadId=upload)
    # a bucket nobody owns is missing, whoever asks
    _refused(lambda: other.get_object(Bucket="nobody", Key="a"), "NoSuchBucket", 404)


def test_presigned_urls_are_checked_as_the_signer(clients):
    owner, other = clients
    for client, expected in ((owner, 200), (other, 403)):
        url = client.generate_presigned_url("get_object", {"Bucket": "owned", "Key": "a.txt"})
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
            assert b"<Code>AccessDenied</Code>" in error.read()
        assert status == expected


def _form_upload(post: dict, body: bytes) -> int:
    """POST a browser-form upload as a page's <form enctype="multipart/form-data"> sends it."""
    boundary = "----fakerek-form"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in post["fields"].items()
    ]
    data = (
        "".join(parts).encode()
        + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(post["url"], data=data, method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("signature", ["s3v4", "s3"])
def test_form_uploads_are_checked_as_the_policys_signer(fakerek, clients, signature):
    """A browser-form (POST policy) upload carries no Authorization: the signer's access key is
    a field of the form (x-amz-credential, or AWSAccessKeyId for SigV2)."""
    config = {"config_options": {"signature_version": signature}}
    owner = fakerek.client("s3", account=OWNER, **config)
    other = fakerek.client("s3", account=OTHER, **config)
    default = fakerek.client("s3", **config)
    default.create_bucket(Bucket="defaults")
    for client, bucket, key, expected in (
        (owner, "owned", "up.txt", 204),
        (other, "theirs", "up.txt", 204),
        (other, "owned", "intruder.txt", 403),
        (other, "defaults", "intruder.txt", 403),
        (default, "defaults", "up.txt", 204),
    ):
        post = client.generate_presigned_post(bucket, key)
        assert _form_upload(post, b"form") == expected, (bucket, key)
    assert owner.get_object(Bucket="owned", Key="up.txt")["Body"].read() == b"form"
    assert other.get_object(Bucket="theirs", Key="up.txt")["Body"].read() == b"form"
    listed = owner.list_objects_v2(Bucket="owned")["Contents"]
    assert sorted(item["Key"] for item in listed) == ["a.txt", "up.txt"]
    assert [i["Key"] for i in default.list_objects_v2(Bucket="defaults")["Contents"]] == ["up.txt"]


def test_bucket_names_are_shared_and_creating_one_follows_s3s_region_rules(fakerek, clients):
    owner, other = clients
    error = _refused(lambda: other.create_bucket(Bucket="owned"), "BucketAlreadyExists", 409)
    assert error["BucketName"] == "owned"
    owner.create_bucket(Bucket="owned")  # us-east-1: the owner's re-creation answers 200
    ireland = fakerek.client("s3", account=OWNER, region="eu-west-1")
    location = {"LocationConstraint": "eu-west-1"}
    ireland.create_bucket(Bucket="irish", CreateBucketConfiguration=location)
    _refused(
        lambda: ireland.create_bucket(Bucket="irish", CreateBucketConfiguration=location),
        "BucketAlreadyOwnedByYou",
        409,
    )
    elsewhere = fakerek.client("s3", account=OTHER, region="eu-west-1")
    _refused(
        lambda: elsewhere.create_bucket(Bucket="irish", CreateBucketConfiguration=location),
        "BucketAlreadyExists",
        409,
    )


def test_list_buckets_lists_the_callers_own(fakerek, clients):
    owner, other = clients
    for name in ("owned-2", "owned-3"):
        owner.create_bucket(Bucket=name)
    names = [b["Name"] for b in owner.list_buckets()["Buckets"]]
    assert names == ["owned", "owned-2", "owned-3"]
    assert [b["Name"] for b in other.list_buckets()["Buckets"]] == ["theirs"]
    assert fakerek.client("s3").list_buckets()["Buckets"] == []  # the default account's
    if _has_max_buckets(owner):  # botocore learnt MaxBuckets after 1.34.139, the lowest we allow
        limited = owner.list_buckets(MaxBuckets=2)["Buckets"]
        assert [b["Name"] for b in limited] == ["owned", "owned-2"]
    other.delete_object(Bucket="theirs", Key="b.txt")
    other.delete_bucket(Bucket="theirs")
    owner.create_bucket(Bucket="theirs")  # a deleted name is free again, for anyone
    assert "theirs" in [b["Name"] for b in owner.list_buckets()["Buckets"]]


def test_owners_survive_restarts_and_older_buckets_belong_to_the_default_account(own_server):
    server = own_server
    server.client("s3").create_bucket(Bucket="old")  # the default account's
    server.client("s3", account=OWNER).create_bucket(Bucket="owned")
    server.stop()
    with sqlite3.connect(f"{server.data_dir}/{DB_NAME}") as db:  # as fakerek left it before
        db.execute("UPDATE s3_buckets SET owner = NULL WHERE name = 'old'")
        db.execute("ALTER TABLE s3_buckets DROP COLUMN owner")
        db.execute("PRAGMA user_version = 5")
    server.start()
    owner, other = server.client("s3", account=OWNER), server.client("s3", account=OTHER)
    default = server.client("s3")
    default.put_object(Bucket="old", Key="k", Body=b"v")
    _refused(lambda: owner.put_object(Bucket="old", Key="k", Body=b"v"))
    # the migration forgot who owned "owned": it is the default account's now
    default.put_object(Bucket="owned", Key="k", Body=b"v")
    owner.create_bucket(Bucket="new")
    server.restart()
    owner, other = server.client("s3", account=OWNER), server.client("s3", account=OTHER)
    owner.put_object(Bucket="new", Key="k", Body=b"v")
    _refused(lambda: other.get_object(Bucket="new", Key="k"))
    assert [b["Name"] for b in owner.list_buckets()["Buckets"]] == ["new"]


# -- Rekognition reads S3 as its caller -------------------------------------------------------


def _asset(bucket: str, key: str) -> dict:
    return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}]}


def test_rekognition_reads_and_writes_s3_as_its_caller(fakerek, clients):
    owner_s3, other_s3 = clients
    lines = []
    for i in range(12):
        data, _ = scene(i, [("circle", "square")[i % 2]])
        owner_s3.put_object(Bucket="owned", Key=f"img{i}.jpg", Body=data)
        lines.append(image_line(f"img{i}.jpg", ("circle", "square")[i % 2], bucket="owned"))
    owner_s3.put_object(Bucket="owned", Key="train.manifest", Body=manifest(lines))
    other_s3.put_object(Bucket="theirs", Key="borrowed.manifest", Body=manifest(lines))
    owner, other = fakerek.client(account=OWNER), fakerek.client(account=OTHER)

    # an import of a manifest in someone else's bucket
    project = other.create_project(ProjectName="p")["ProjectArn"]
    dataset = other.create_dataset(
        ProjectArn=project,
        DatasetType="TRAIN",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": "owned", "Name": "train.manifest"}}
        },
    )["DatasetArn"]
    found = other.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert (found["Status"], found["StatusMessage"], found["StatusMessageCode"]) == (
        "CREATE_FAILED",
        "The S3 bucket permissions are incorrect.",
        "CLIENT_ERROR",
    )

    def trained(client, name: str, training: dict, output: str) -> dict:
        arn = client.create_project(ProjectName=name)["ProjectArn"]
        client.create_project_version(
            ProjectArn=arn,
            VersionName="v1",
            OutputConfig={"S3Bucket": output},
            TrainingData=training,
            TestingData={"AutoCreate": True},
        )
        return client.describe_project_versions(ProjectArn=arn)["ProjectVersionDescriptions"][0]

    cases = [  # (who, training manifest, output bucket, expected status message)
        (
            other,
            _asset("owned", "train.manifest"),
            "theirs",
            "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET: The S3 bucket permissions are "
            "incorrect.",
        ),
        (
            other,
            _asset("theirs", "borrowed.manifest"),  # its images are in the owner's bucket
            "theirs",
            "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET: The permissions for the images S3 "
            "bucket are invalid.",
        ),
        (
            owner,
            _asset("owned", "train.manifest"),
            "theirs",
            "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET: Unable to write to output S3 bucket.",
        ),
        (owner, _asset("owned", "train.manifest"), "owned", "The model is ready to run."),
    ]
    for number, (client, training, output, message) in enumerate(cases):
        found = trained(client, f"t{number}", training, output)
        assert found["StatusMessage"] == message
    model = found["ProjectVersionArn"]  # the owner's, trained
    owner.start_project_version(ProjectVersionArn=model, MinInferenceUnits=1)
    image = {"S3Object": {"Bucket": "owned", "Name": "img0.jpg"}}
    assert owner.detect_custom_labels(ProjectVersionArn=model, Image=image)["CustomLabels"]
    other_s3.put_object(Bucket="theirs", Key="img.jpg", Body=scene(0, ["circle"])[0])
    elsewhere = {"S3Object": {"Bucket": "theirs", "Name": "img.jpg"}}
    _refused(
        lambda: owner.detect_custom_labels(ProjectVersionArn=model, Image=elsewhere),
        "InvalidS3ObjectException",
        400,
    )
    written = [o["Key"] for o in other_s3.list_objects_v2(Bucket="theirs")["Contents"]]
    assert not [key for key in written if "-t2-" in key]  # the owner wrote nothing there


@pytest.mark.parametrize(
    "authorization, query, account",
    [
        (
            "AWS4-HMAC-SHA256 Credential=111111111111/20260101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=0",
            "",
            OWNER,
        ),
        ("AWS 222222222222:c2lnbmF0dXJl", "", OTHER),  # SigV2
        (None, "X-Amz-Credential=111111111111%2F20260101%2Fus-east-1%2Fs3%2Faws4_request", OWNER),
        (None, "AWSAccessKeyId=222222222222&Signature=x&Expires=1", OTHER),  # SigV2 presigned
        ("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request", "", "0"),
        (None, "", "0"),  # unsigned
    ],
)
def test_the_caller_is_the_account_of_the_signing_key(authorization, query, account):
    key = sigv4.access_key(authorization, query)
    assert sigv4.account_of(key, "0") == account


def _has_max_buckets(client: Any) -> bool:
    """Whether this botocore's S3 model lets ListBuckets send `max-buckets`."""
    shape = client.meta.service_model.operation_model("ListBuckets").input_shape
    return shape is not None and "MaxBuckets" in shape.members
