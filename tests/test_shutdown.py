"""Issue 18 item 6: SIGTERM under load (Rekognition calls, S3 PUTs, a training in progress) stops
the server cleanly: exit status 0, no traceback in its log, every acknowledged change still
there after a restart, and the training ended one way or the other, never left in progress."""

from __future__ import annotations

import threading
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from images import scene
from manifests import BUCKET, image_line, project_from

SERVICE_ISSUE = "Amazon Rekognition experienced a service issue."


def _keep_calling(call: Any, acknowledged: list, stop: threading.Event) -> None:
    """Call `call(n)` for n = 0, 1, ... until the server stops answering; keep what it
    acknowledged."""
    number = 0
    while not stop.is_set():
        try:
            acknowledged.append(call(number))
        except (BotoCoreError, ClientError):
            return  # the server is stopping: it refuses or drops what it has not taken
        number += 1


def test_sigterm_under_load_stops_cleanly_and_keeps_what_it_acknowledged(own_server):
    server = own_server
    s3, client = server.client("s3"), server.client()
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="out")
    lines = []
    for i in range(150):
        data, _ = scene(i, [("circle", "square")[i % 2]])
        s3.put_object(Bucket=BUCKET, Key=f"img{i}.jpg", Body=data)
        lines.append(image_line(f"img{i}.jpg", ("circle", "square")[i % 2]))
    project = project_from(client, s3, "p", lines)
    client.describe_projects()  # instant timing: the import has ended
    version = client.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": "out"}
    )["ProjectVersionArn"]

    stop = threading.Event()
    puts: list[tuple[str, bytes]] = []
    projects: list[str] = []
    tags: list[str] = []

    def put(worker: int) -> Any:
        s3_client = server.client("s3")

        def one(n: int) -> tuple[str, bytes]:
            key, body = f"load/{worker}/{n}", f"{worker}-{n}".encode() * 100
            s3_client.put_object(Bucket="out", Key=key, Body=body)
            return key, body

        return one

    creator, tagger = server.client(), server.client()

    def create(n: int) -> str:
        name = f"load-{n}"
        creator.create_project(ProjectName=name)
        return name

    def tag(n: int) -> str:
        value = str(n)
        tagger.tag_resource(ResourceArn=project, Tags={"n": value})
        return value

    threads = [
        threading.Thread(target=_keep_calling, args=(put(w), puts, stop)) for w in range(2)
    ] + [
        threading.Thread(target=_keep_calling, args=(create, projects, stop)),
        threading.Thread(target=_keep_calling, args=(tag, tags, stop)),
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    status = server.stop(timeout=30)
    stop.set()
    for thread in threads:
        thread.join(30)
    log = server.log()
    assert status == 0, log[-3000:]
    assert "Traceback" not in log, log
    assert puts and projects and tags  # the load was real

    server.start()
    s3, client = server.client("s3"), server.client()
    for key, body in puts:
        assert s3.get_object(Bucket="out", Key=key)["Body"].read() == body
    names = {  # every page: a second of load can create more projects than one page holds
        p["ProjectArn"].split("/")[1]
        for page in client.get_paginator("describe_projects").paginate()
        for p in page["ProjectDescriptions"]
    }
    assert set(projects) <= names
    found = client.list_tags_for_resource(ResourceArn=project)["Tags"]
    assert found["n"] in tags[-1:] or int(found["n"]) > int(tags[-1])  # the last one acknowledged
    [model] = client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    assert model["ProjectVersionArn"] == version
    assert model["Status"] in ("TRAINING_COMPLETED", "TRAINING_FAILED")
    if model["Status"] == "TRAINING_FAILED":
        assert model["StatusMessage"] == SERVICE_ISSUE


def test_an_answer_in_flight_at_sigterm_is_sent_whole(own_server):
    server = own_server
    s3 = server.client("s3")
    s3.create_bucket(Bucket="big")
    body = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than the socket buffers hold
    s3.put_object(Bucket="big", Key="object", Body=body)
    stream = s3.get_object(Bucket="big", Key="object")["Body"]
    received = stream.read(1024 * 1024)
    stopping = threading.Thread(target=lambda: statuses.append(server.stop(timeout=30)))
    statuses: list[int] = []
    stopping.start()
    time.sleep(0.5)  # the server has the signal while the answer is still being sent
    received += stream.read()
    stopping.join(30)
    assert received == body
    assert statuses == [0]
    assert "Traceback" not in server.log()
