"""Contract tests: the private names of moto and waitress that fakerek/adapters/ relies on.

Each test exercises one name through the adapter and, when it breaks, fails with the dependency's
version in its message, so that a release that changed the name is caught here, by name.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Iterator

import pytest
from werkzeug.test import Client

from fakerek.adapters import moto_s3, waitress_server
from fakerek.adapters.moto_s3 import KeyInfo, MotoS3


@contextlib.contextmanager
def contract(dependency: str, version: str, name: str, module: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        pytest.fail(
            f"{dependency} {version}: {name} no longer behaves as fakerek/adapters/{module} "
            f"expects: {error!r}",
            pytrace=True,
        )


def moto(name: str):  # noqa: ANN201 - a context manager
    return contract("moto", moto_s3.version(), name, "moto_s3.py")


def waitress(name: str):  # noqa: ANN201
    return contract("waitress", waitress_server.version(), name, "waitress_server.py")


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    adapter = MotoS3()
    adapter.reset()
    yield adapter
    adapter.reset()


# -- moto ---------------------------------------------------------------------------------------


def test_create_backend_app_serves_s3(s3):
    with moto("moto.server.create_backend_app"):
        s3.create_bucket("contract-app", "us-east-1")
        answer = Client(s3.app).get("/", headers={"Host": "localhost"})
        assert answer.status_code == 200
        assert b"<Name>contract-app</Name>" in answer.data


def test_s3_backends_holds_buckets_with_their_region(s3):
    with moto("moto.s3.models.s3_backends"):
        s3.create_bucket("contract-region", "eu-west-1")
        assert s3.has_bucket("contract-region")
        assert s3.buckets()["contract-region"] == "eu-west-1"
        s3.delete_bucket("contract-region")
        assert not s3.has_bucket("contract-region")


def test_ignore_subdomain_bucketname_makes_every_host_path_style(s3):
    with moto("moto.settings.S3_IGNORE_SUBDOMAIN_BUCKETNAME"):
        s3.create_bucket("contract-path", "us-east-1")
        answer = Client(s3.app).put(
            "/contract-path/k", data=b"x", headers={"Host": "other.bucket.example.com"}
        )
        assert answer.status_code == 200
        assert s3.keys("contract-path") == ["k"]


def test_raw_uri_is_the_key_moto_stores(s3):
    with moto("RAW_URI (the raw request target moto reads keys from)"):
        s3.create_bucket("contract-raw", "us-east-1")
        environ = {"RAW_URI": "/contract-raw/pct%2520lit%3Fq.bin"}
        answer = Client(s3.app).put(
            "/contract-raw/pct%20lit?q.bin",
            data=b"x",
            headers={"Host": "localhost"},
            environ_overrides=environ,
        )
        assert answer.status_code == 200
        assert s3.keys("contract-raw") == ["pct%20lit?q.bin"]


def test_key_value_buffer_and_lock_give_the_bytes(s3):
    with moto("FakeKey._value_buffer, FakeKey.lock"):
        s3.create_bucket("contract-bytes", "us-east-1")
        s3.put("contract-bytes", "k", b"0123456789", {"Content-Type": "text/plain"})
        key = s3.get("contract-bytes", "k")
        copied = io.BytesIO()
        s3.copy_bytes(key, copied)
        assert copied.getvalue() == b"0123456789"
        assert s3.read(key, 4) == b"0123"
        assert s3.read(key) == b"0123456789"


def test_key_etag_size_and_metadata_are_restored_as_given(s3):
    with moto("FakeKey._etag, FakeKey.contentsize, FakeKey.set_metadata"):
        s3.create_bucket("contract-restore", "us-east-1")
        info = KeyInfo(
            5,
            "0123456789abcdef0123456789abcdef",
            {"Content-Type": "image/png", "x-amz-meta-owner": "me"},
        )
        s3.restore("contract-restore", "k", io.BytesIO(b"hello"), info)
        key = s3.get("contract-restore", "k")
        restored = s3.info(key)
        assert (restored.size, restored.etag) == (info.size, info.etag)
        assert {k.lower(): v for k, v in restored.metadata.items()}.items() >= {
            "content-type": "image/png",
            "x-amz-meta-owner": "me",
        }.items()
        assert s3.read(key) == b"hello"


def test_forget_and_reset_drop_keys_and_buckets(s3):
    with moto("FakeBucket.keys (getlist, del), FakeKey.dispose, s3_backends.reset"):
        s3.create_bucket("contract-forget", "us-east-1")
        s3.put("contract-forget", "k", b"x", {})
        s3.forget("contract-forget", "k")
        assert s3.get("contract-forget", "k") is None
        assert s3.keys("contract-forget") == []
        s3.reset()
        assert s3.buckets() == {}


# -- waitress -----------------------------------------------------------------------------------


def _hello(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture
def served() -> Iterator[waitress_server.Server]:
    server = waitress_server.Server(_hello, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server
    server.close()
    thread.join(5)


def test_effective_port_is_the_listening_port(served):
    with waitress("create_server(...).effective_port"):
        assert served.port > 0
        with socket.create_connection(("127.0.0.1", served.port), timeout=5):
            pass


def test_channel_class_completes_bodiless_requests_that_expect_continue(served):
    with waitress("BaseWSGIServer.channel_class, HTTPChannel.send_continue, request.completed"):
        request = (
            b"PUT /empty HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as conn:
            conn.sendall(request + request.replace(b"/empty", b"/again"))
            received = b""
            while received.count(b"200 OK") < 2:
                chunk = conn.recv(4096)
                assert chunk, f"the connection closed after {received!r}"
                received += chunk
        assert received.count(b"200 OK") == 2
