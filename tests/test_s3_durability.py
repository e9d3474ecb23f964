"""The embedded S3 on disk: acknowledged writes are durable, damaged data dirs start repaired."""

from __future__ import annotations

import hashlib
import os
import sqlite3

import pytest
from botocore.exceptions import ClientError
from conftest import error_of
from test_versions import OUT, own_project, train

from fakerek.store.db import DB_NAME


def _blob_dir(server) -> str:
    return os.path.join(server.data_dir, "s3")


def test_a_change_that_cannot_be_stored_answers_internal_error_and_is_undone(own_server):
    s3 = own_server.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="kept", Body=b"first")
    # the folders that the new bytes would go to are files: storing them fails, reading works
    blocked = []
    for body in (b"never stored", b"second"):
        folder = os.path.join(_blob_dir(own_server), hashlib.sha256(body).hexdigest()[:2])
        assert not os.path.exists(folder)
        with open(folder, "w") as handle:
            handle.write("not a folder")
        blocked.append(folder)
    for key, body in (("new", b"never stored"), ("kept", b"second")):
        with pytest.raises(ClientError) as excinfo:
            s3.put_object(Bucket="bkt", Key=key, Body=body)
        error = error_of(excinfo)
        assert (error["Code"], error["Status"]) == ("InternalError", 500)
    for folder in blocked:
        os.remove(folder)
    assert "could not store S3 change PUT /bkt/new" in own_server.log()
    # nothing unacknowledged shows, in memory or after a restart
    with pytest.raises(ClientError):
        s3.get_object(Bucket="bkt", Key="new")
    assert s3.get_object(Bucket="bkt", Key="kept")["Body"].read() == b"first"
    s3.put_object(Bucket="bkt", Key="new", Body=b"never stored")
    own_server.restart()
    s3 = own_server.client("s3")
    assert s3.get_object(Bucket="bkt", Key="new")["Body"].read() == b"never stored"
    assert s3.get_object(Bucket="bkt", Key="kept")["Body"].read() == b"first"


def test_a_damaged_data_dir_starts_and_says_what_it_repaired(own_server):
    s3 = own_server.client("s3")
    for bucket in ("orphans", "whole"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="orphans", Key="a.txt", Body=b"A")
    s3.put_object(Bucket="orphans", Key="lost.txt", Body=b"LOST")
    s3.put_object(Bucket="whole", Key="w.txt", Body=b"W")
    own_server.stop()
    with sqlite3.connect(os.path.join(own_server.data_dir, DB_NAME)) as db:
        db.execute("DELETE FROM s3_buckets WHERE name = 'orphans'")  # as moto 5.2.5 left it
    digest = hashlib.sha256(b"LOST").hexdigest()
    os.remove(os.path.join(_blob_dir(own_server), digest[:2], digest))
    own_server.start()
    s3 = own_server.client("s3")
    s3.list_buckets()  # S3 answers once its start-up (and repair) is done
    log = own_server.log()
    assert "repair: bucket orphans is restored" in log
    assert "repair: s3://orphans/lost.txt (version null) is dropped" in log
    s3 = own_server.client("s3")
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == ["orphans", "whole"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="orphans")["Contents"]] == ["a.txt"]
    assert s3.get_object(Bucket="orphans", Key="a.txt")["Body"].read() == b"A"
    assert s3.get_object(Bucket="whole", Key="w.txt")["Body"].read() == b"W"
    own_server.restart()  # repaired once: the next start has nothing to repair
    own_server.client("s3").list_buckets()
    assert own_server.log().count("repair:") == 2


def test_an_unreadable_index_row_does_not_stop_the_server(own_server):
    s3 = own_server.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="ok", Body=b"fine")
    own_server.stop()
    with sqlite3.connect(os.path.join(own_server.data_dir, DB_NAME)) as db:
        db.execute(
            "INSERT INTO s3_versions (bucket, key, position, version_id, deleted, blob, size, "
            "etag, metadata, modified_ms) VALUES ('bkt', 'bad', 0, 'null', 0, ?, 3, 'x', "
            "'not json', 0)",
            (hashlib.sha256(b"fine").hexdigest(),),
        )
    own_server.start()
    own_server.client("s3").list_buckets()
    assert "s3://bkt/bad cannot be restored" in own_server.log()
    assert own_server.client("s3").get_object(Bucket="bkt", Key="ok")["Body"].read() == b"fine"


def _everything(s3) -> dict[tuple[str, str], bytes]:
    found = {}
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()
                found[(bucket["Name"], item["Key"])] = body
    return found


def test_buckets_objects_and_training_outputs_survive_a_kill_and_a_restart(own_server):
    client, project = own_project(own_server, 12)
    s3 = own_server.client("s3")
    s3.create_bucket(Bucket="extra")
    s3.put_object(Bucket="extra", Key="é/x y.bin", Body=bytes(range(256)) * 100)
    train(client, project)
    client.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=["v1"]
    )
    before = _everything(s3)
    assert any(bucket == OUT for bucket, _ in before)  # the training wrote its artefacts
    own_server.kill()
    own_server.start()
    assert _everything(own_server.client("s3")) == before
    own_server.restart()
    assert _everything(own_server.client("s3")) == before
    assert "repair:" not in own_server.log()


def test_versions_tags_metadata_and_versioning_survive_a_restart(own_server):
    s3 = own_server.client("s3")
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(
        Bucket="versioned",
        Key="k",
        Body=b"one",
        ContentType="text/plain",
        Metadata={"Owner": "me"},
        Tagging="team=vision",
    )["VersionId"]
    second = s3.put_object(Bucket="versioned", Key="k", Body=b"two")["VersionId"]
    s3.put_object_tagging(
        Bucket="versioned",
        Key="k",
        VersionId=second,
        Tagging={"TagSet": [{"Key": "stage", "Value": "test"}]},
    )
    marker = s3.delete_object(Bucket="versioned", Key="k")["VersionId"]
    s3.put_object(Bucket="versioned", Key="other", Body=b"x")

    def state(client):
        versions = client.list_object_versions(Bucket="versioned")
        return (
            client.get_bucket_versioning(Bucket="versioned")["Status"],
            [
                (v["Key"], v["VersionId"], v["IsLatest"], v["Size"], v["ETag"], v["LastModified"])
                for v in versions["Versions"]
            ],
            [(m["Key"], m["VersionId"], m["IsLatest"]) for m in versions["DeleteMarkers"]],
            client.get_object(Bucket="versioned", Key="k", VersionId=first)["Body"].read(),
            client.head_object(Bucket="versioned", Key="k", VersionId=first)["ContentType"],
            client.head_object(Bucket="versioned", Key="k", VersionId=first)["Metadata"],
            client.get_object_tagging(Bucket="versioned", Key="k", VersionId=first)["TagSet"],
            client.get_object_tagging(Bucket="versioned", Key="k", VersionId=second)["TagSet"],
        )

    before = state(s3)
    assert before[0] == "Enabled" and before[2] == [("k", marker, True)]
    assert before[3:] == (
        b"one",
        "text/plain",
        {"owner": "me"},
        [{"Key": "team", "Value": "vision"}],
        [{"Key": "stage", "Value": "test"}],
    )
    own_server.restart()
    assert state(own_server.client("s3")) == before


def test_stored_bytes_are_read_from_disk_not_kept_in_memory(app, client):
    from fakerek.web import services_of

    signed = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/"
        "aws4_request, SignedHeaders=host, Signature=0"
    }
    client.put("/on-disk", headers=signed)
    client.put("/on-disk/k", data=b"x" * 100_000, headers=signed)
    s3 = services_of(app).s3
    [(version, _)] = s3.moto.versions("on-disk", "k")
    assert version.blob == hashlib.sha256(b"x" * 100_000).hexdigest()
    assert client.get("/on-disk/k", headers=signed).data == b"x" * 100_000
