"""Shared helpers for the suite. The server fixtures come from fakerek's own pytest plugin."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fakerek.app import create_app
from fakerek.config import Settings
from fakerek.testing import FakerekServer
from fakerek.web import services_of

TARGET = "RekognitionService."


def error_of(excinfo: pytest.ExceptionInfo) -> dict[str, Any]:
    """`{'Code', 'Message', 'Status'}` of a boto3 ClientError."""
    error: ClientError = excinfo.value
    status = error.response["ResponseMetadata"]["HTTPStatusCode"]
    return {**error.response["Error"], "Status": status}


def raw_call(
    endpoint: str, target: str | None, body: bytes | str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """POST a hand-made request; return (status, headers, decoded JSON body)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(endpoint + "/", data=data, method="POST")
    request.add_header("Content-Type", "application/x-amz-json-1.1")
    if target is not None:
        request.add_header("X-Amz-Target", target)
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _lower(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers), json.loads(error.read())


def answers_while_running(client: Any, project: str, arn: str, probes: list[bytes]) -> list:
    """Start the model at `arn`, wait until it runs, and stop it after one DetectCustomLabels
    (MinConfidence 0) of each probe; their CustomLabels."""
    client.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
    client.get_waiter("project_version_running").wait(
        ProjectArn=project, VersionNames=[arn.split("/")[3]]
    )
    answers = [
        client.detect_custom_labels(ProjectVersionArn=arn, Image={"Bytes": probe}, MinConfidence=0)[
            "CustomLabels"
        ]
        for probe in probes
    ]
    client.stop_project_version(ProjectVersionArn=arn)
    return answers


@pytest.fixture
def own_server(tmp_path):
    """A server of the test's own, for restarts and kills, on a data directory under tmp_path."""
    server = FakerekServer(str(tmp_path / "data")).start()
    yield server
    server.close()


@pytest.fixture
def unvalidated(fakerek):
    """A client that sends what it is given, so server-side checks of min/required are reached."""
    return fakerek.client("rekognition", config_options={"parameter_validation": False})


@pytest.fixture
def project(rekognition) -> str:
    return rekognition.create_project(ProjectName="proj")["ProjectArn"]


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Action": "rekognition:CopyProjectVersion",
            "Resource": "arn:aws:rekognition:us-east-1:123456789012:project/proj/version/*",
        }
    ],
}


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


# -- in process ----------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path):
    """The application in this process (flaskr-style): `create_app` on a temporary data dir."""
    application = create_app(Settings(data_dir=str(tmp_path / "data")))
    yield application
    services_of(application).close()


@pytest.fixture
def client(app):
    return app.test_client()


def call(client, operation: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    """A Rekognition call through the in-process test client: (status, decoded JSON)."""
    answer = client.post(
        "/",
        data=json.dumps(body or {}),
        headers={
            "X-Amz-Target": TARGET + operation,
            "Content-Type": "application/x-amz-json-1.1",
            **headers,
        },
    )
    return answer.status_code, answer.get_json(force=True)


# -- S3 clients and peers -------------------------------------------------------------------------


def virtual_host_s3(server: FakerekServer) -> Any:
    """An S3 client that names buckets in the Host (`<bucket>.localhost:<port>`), as SDKs do with
    `addressing_style="virtual"`; the requests go to 127.0.0.1, since `*.localhost` may not
    resolve here."""
    port = urllib.parse.urlparse(server.endpoint).port
    s3 = server.client(
        "s3",
        endpoint_url=f"http://localhost:{port}",
        config_options={"s3": {"addressing_style": "virtual"}},
    )

    def to_loopback(request: Any, **_: Any) -> None:
        url = urllib.parse.urlsplit(request.url)
        request.headers["Host"] = url.netloc
        request.url = urllib.parse.urlunsplit(url._replace(netloc=f"127.0.0.1:{port}"))

    s3.meta.events.register("before-send.s3", to_loopback)
    return s3


@pytest.fixture(scope="module")
def moto_endpoint() -> Any:
    """moto's standalone server (`python -m moto.server`) on a free port, for comparisons and as
    an external S3 endpoint."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    yield endpoint
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    """A new cache directory (one per test module), with the int8 graphs of the default one
    (only so that the first server does not derive them again)."""
    folder = str(tmp_path_factory.mktemp("cache"))
    for graph in glob.glob(os.path.join(Settings().cache_dir, "*.int8.onnx")):
        shutil.copy(graph, folder)
    return folder
