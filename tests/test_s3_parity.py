"""Everyday S3 commands give the same results on fakerek as on moto's standalone server: the AWS
CLI's mb, cp, sync, ls, rm, a presigned GET, and a multipart upload of a 50 MB file."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def _cli(endpoint: str, *args: str) -> str:
    environ = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "s3", *args, "--endpoint-url", endpoint],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _done(text: str) -> list[str]:
    """What a transfer did (its upload:, download:, delete: lines), without progress lines."""
    return sorted(
        line
        for line in text.splitlines()
        if line.split(":")[0] in ("upload", "download", "delete", "copy")
    )


def _listing(text: str) -> list[tuple[str, ...]]:
    """`aws s3 ls` lines without their dates: (size, key) or ("PRE", prefix)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        out.append(tuple(parts[-2:]) if parts[0] == "PRE" else (parts[2], " ".join(parts[3:])))
    return sorted(out)


def everyday(endpoint: str, work: Path) -> dict[str, object]:
    """The same commands against an endpoint; what a user would compare, without dates."""
    source = work / "source"
    (source / "nested").mkdir(parents=True)
    for i, name in enumerate(["a.txt", "b c.txt", "nested/ü.txt", "nested/d+e.txt"]):
        (source / name).write_bytes(f"file {i} {name}".encode() * (i + 1))
    big = work / "big.bin"
    big.write_bytes(random.Random(50).randbytes(50 * 1024 * 1024))  # the same on both
    seen: dict[str, object] = {}
    _cli(endpoint, "mb", "s3://parity")
    _cli(endpoint, "cp", str(source / "a.txt"), "s3://parity/copied/a.txt")
    seen["sync"] = _done(_cli(endpoint, "sync", str(source), "s3://parity/synced"))
    seen["sync again"] = _done(_cli(endpoint, "sync", str(source), "s3://parity/synced"))
    seen["ls"] = _listing(_cli(endpoint, "ls", "s3://parity/synced/"))
    seen["ls recursive"] = _listing(_cli(endpoint, "ls", "--recursive", "s3://parity"))
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )
    s3.upload_file(
        str(big),
        "parity",
        "big.bin",
        Config=TransferConfig(
            multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024
        ),
    )
    head = s3.head_object(Bucket="parity", Key="big.bin")
    seen["multipart"] = (head["ContentLength"], head["ETag"])
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "parity", "Key": "big.bin"})
    with urllib.request.urlopen(url, timeout=60) as answer:
        seen["presigned sha256"] = (
            hashlib.sha256(answer.read()).hexdigest()
            == hashlib.sha256(big.read_bytes()).hexdigest()
        )
    seen["objects"] = sorted(
        (o["Key"], o["Size"], o["ETag"]) for o in s3.list_objects_v2(Bucket="parity")["Contents"]
    )
    back = work / "back"
    _cli(endpoint, "cp", "--recursive", "s3://parity/synced", str(back))
    seen["downloaded"] = sorted(
        (str(p.relative_to(back)), p.read_bytes()) for p in back.rglob("*") if p.is_file()
    )
    seen["rm"] = _done(_cli(endpoint, "rm", "--recursive", "s3://parity/synced"))
    seen["after rm"] = _listing(_cli(endpoint, "ls", "--recursive", "s3://parity"))
    return seen


def test_everyday_commands_match_moto_standalone(fakerek, moto_endpoint, tmp_path):
    work = tmp_path / "work"  # the same local paths in both runs
    ours = everyday(fakerek.endpoint, work)
    shutil.rmtree(work)
    theirs = everyday(moto_endpoint, work)
    assert ours["presigned sha256"] is True
    assert ours == {
        k: (v.replace(moto_endpoint, fakerek.endpoint) if isinstance(v, str) else v)
        for k, v in theirs.items()
    }


def test_listing_keys_under_a_prefix_alike_on_fakerek_and_moto(fakerek, moto_endpoint):
    from fakerek.s3.objects import ExternalObjects

    results = []
    for endpoint in (fakerek.endpoint, moto_endpoint):
        s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="listing")
        for key in ("f/a.jpg", "f/sub/b.jpg", "f/c.txt", "g/d.jpg", "f/gone.jpg"):
            s3.put_object(Bucket="listing", Key=key, Body=b"x")
        s3.delete_object(Bucket="listing", Key="f/gone.jpg")
        objects = ExternalObjects(endpoint, "us-east-1")
        results.append((objects.keys("listing", "f/", 10), objects.keys("listing", "f/", 2)))
    assert (
        results[0] == results[1] == (["f/a.jpg", "f/c.txt", "f/sub/b.jpg"], ["f/a.jpg", "f/c.txt"])
    )
