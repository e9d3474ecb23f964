"""Keys come back exactly as they were put: every character class, every way of naming a key."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import urllib.parse

import pytest
from boto3.s3.transfer import TransferConfig
from conftest import virtual_host_s3

# One key per character class that URL handling tends to change.
KEYS = [
    "pct%20lit.bin",
    "q?mark.bin",
    "plus+sign.bin",
    "hash#tag.bin",
    "semi;colon.bin",
    "tilde~name.bin",
    "with space.bin",
    "double//slash.bin",
    "../up/../dots.bin",
    "folder/",
    "ünïcödé/日本語.bin",
    "amp&eq=.bin",
    "/leading-slash.bin",
]
BUCKET = "exact-keys"


@pytest.fixture
def s3(fakerek):
    client = fakerek.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def _body(key: str) -> bytes:
    return f"body of {key}".encode()


@pytest.mark.parametrize("key", KEYS)
def test_put_get_head_copy_delete_keep_the_key(s3, key):
    s3.put_object(Bucket=BUCKET, Key=key, Body=_body(key))
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == _body(key)
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(_body(key))
    copy = key + ".copy"
    s3.copy_object(Bucket=BUCKET, Key=copy, CopySource={"Bucket": BUCKET, "Key": key})
    assert s3.get_object(Bucket=BUCKET, Key=copy)["Body"].read() == _body(key)
    s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": copy}]})
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_listings_name_every_key_exactly(s3):
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=_body(key))
    expected = sorted(KEYS)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == expected
    assert [o["Key"] for o in s3.list_objects(Bucket=BUCKET)["Contents"]] == expected
    for listed in (
        s3.list_objects_v2(Bucket=BUCKET, EncodingType="url"),
        s3.list_objects(Bucket=BUCKET, EncodingType="url"),
    ):  # asked for explicitly, the encoded keys reach the caller, who decodes them
        assert [urllib.parse.unquote_plus(o["Key"]) for o in listed["Contents"]] == expected
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, PaginationConfig={"PageSize": 3}
    )
    assert [o["Key"] for page in pages for o in page["Contents"]] == expected


def test_multipart_upload_keeps_the_key(s3):
    key = "multi part/ü?+#.bin"
    data = os.urandom(6 * 1024 * 1024)
    s3.upload_fileobj(
        io.BytesIO(data),
        BUCKET,
        key,
        Config=TransferConfig(
            multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
        ),
    )
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data


def test_keys_survive_a_restart_exactly(own_server):
    s3 = own_server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=_body(key))
    own_server.restart()
    s3 = own_server.client("s3")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == sorted(KEYS)
    for key in KEYS:
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == _body(key)


def test_a_presigned_get(fakerek, s3):
    key = "signed ü+?.bin"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"shared")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key})
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.read() == b"shared"


# -- the AWS CLI --------------------------------------------------------------------------------


def aws_s3(server, *args: str) -> str:
    environ = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "s3", *args, "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


FILE_NAMES = [
    "pct%20lit.bin",
    "plus+sign.bin",
    "hash#tag.bin",
    "semi;colon.bin",
    "tilde~name.bin",
    "with space.bin",
    "ünïcödé.bin",
    "amp&eq=.bin",
]


def test_aws_cli_cp_sync_ls_rm(fakerek, tmp_path):
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    for name in FILE_NAMES:
        (source / "sub" / name).write_bytes(_body(name))
    aws_s3(fakerek, "mb", f"s3://{BUCKET}")
    aws_s3(fakerek, "cp", str(source / "sub" / FILE_NAMES[0]), f"s3://{BUCKET}/one/{FILE_NAMES[0]}")
    aws_s3(fakerek, "sync", str(source), f"s3://{BUCKET}/synced")
    listed = aws_s3(fakerek, "ls", "--recursive", f"s3://{BUCKET}")
    names = sorted(line.split(maxsplit=3)[3] for line in listed.splitlines())
    assert names == sorted([f"one/{FILE_NAMES[0]}"] + [f"synced/sub/{n}" for n in FILE_NAMES])
    # a second sync finds nothing to upload: sizes and times match what was stored
    assert aws_s3(fakerek, "sync", str(source), f"s3://{BUCKET}/synced").strip() == ""
    back = tmp_path / "back"
    aws_s3(fakerek, "sync", f"s3://{BUCKET}/synced", str(back))
    for name in FILE_NAMES:
        assert (back / "sub" / name).read_bytes() == _body(name)
    aws_s3(fakerek, "rm", "--recursive", f"s3://{BUCKET}/synced")
    assert aws_s3(fakerek, "ls", "--recursive", f"s3://{BUCKET}").count("\n") == 1


def test_virtual_host_keys_are_exact_too(fakerek):
    s3 = virtual_host_s3(fakerek)
    s3.create_bucket(Bucket="vhost-keys")
    for key in ("pct%20lit.bin", "q?mark.bin", "with space.bin", "ünï/ü.bin"):
        s3.put_object(Bucket="vhost-keys", Key=key, Body=_body(key))
        assert s3.get_object(Bucket="vhost-keys", Key=key)["Body"].read() == _body(key)
    plain = fakerek.client("s3")
    listed = [o["Key"] for o in plain.list_objects_v2(Bucket="vhost-keys")["Contents"]]
    assert listed == sorted(["pct%20lit.bin", "q?mark.bin", "with space.bin", "ünï/ü.bin"])
