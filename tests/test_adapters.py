"""Contract tests: the private names of moto and waitress that fakerek/adapters/ relies on.

Each test exercises one name through the adapter and, when it breaks, fails with the dependency's
version in its message, so that a release that changed the name is caught here, by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.test import Client

from fakerek.adapters import moto_s3, waitress_server
from fakerek.adapters.moto_s3 import KeyInfo, MotoS3, Version


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


SIGNED = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    adapter = MotoS3()
    adapter.reset()
    yield adapter
    adapter.reset()


# -- moto ---------------------------------------------------------------------------------------


def test_create_backend_app_serves_s3(s3):
    with moto("moto.moto_server.werkzeug_app.create_backend_app"):
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


def test_each_adapter_has_a_backend_of_its_own(s3):
    with moto(
        "moto.s3.models.S3BackendDict(S3Backend, ...), the name s3_backends in moto.s3.models "
        "and moto.s3.responses"
    ):
        other = MotoS3()
        try:
            s3.create_bucket("contract-own", "us-east-1")
            other.create_bucket("contract-own", "eu-west-1")  # bucket names are per backend
            other.create_bucket("contract-other", "eu-west-1")
            answer = Client(other.app).put("/contract-own/k", data=b"x")
            assert answer.status_code == 200
            assert s3.buckets()["contract-own"] == "us-east-1" and s3.keys("contract-own") == []
            assert "contract-other" not in s3.buckets()
            assert other.keys("contract-own") == ["k"]
            listed = Client(s3.app).get("/", headers={"Host": "localhost"}).data
            assert b"contract-own" in listed and b"contract-other" not in listed
            other.reset()  # empties its own backend only
            assert s3.has_bucket("contract-own") and other.buckets() == {}
        finally:
            other.reset()
            s3.delete_bucket("contract-own")


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


def test_keys_are_restored_with_their_versions_from_blob_files(s3, tmp_path):
    with moto(
        "FakeKey(...), FakeKey._etag, .contentsize, .last_modified, ._metadata, "
        "FakeDeleteMarker, FakeBucket.keys.setlist/getlist, tagger, versioning_status"
    ):
        s3.create_bucket("contract-restore", "us-east-1")
        s3.set_versioning("contract-restore", "Enabled")
        blob = tmp_path / "blob"
        blob.write_bytes(b"hello")
        info = KeyInfo(
            5,
            "5d41402abc4b2a76b9719d911017c592",
            {"content-type": "image/png", "x-amz-meta-owner": "me"},
        )
        versions = [
            Version("v1", False, 1_700_000_000_000, info, {"team": "vision"}, "d1"),
            Version("v2", True, 1_700_000_001_000, None, {}, None),
        ]
        s3.restore("contract-restore", "k", [(versions[0], str(blob)), (versions[1], None)])
        assert s3.versioning("contract-restore") == "Enabled"
        assert [v for v, _ in s3.versions("contract-restore", "k")] == versions
        assert s3.get("contract-restore", "k") is None  # the newest version is a delete marker
        old = s3.get("contract-restore", "k", "v1")
        assert s3.read(old) == b"hello" and s3.info(old) == info


def test_a_blob_buffer_is_what_moto_reads_and_serves(s3, tmp_path):
    with moto("FakeKey._value_buffer (attach), FakeKey.value"):
        s3.create_bucket("contract-attach", "us-east-1")
        s3.put("contract-attach", "k", b"in memory", {})
        blob = tmp_path / "blob"
        blob.write_bytes(b"in memory")
        s3.attach(s3.get("contract-attach", "k"), str(blob), "digest")
        [(version, _)] = s3.versions("contract-attach", "k")
        assert version.blob == "digest"
        signed = {"Host": "localhost", "Authorization": SIGNED}
        assert Client(s3.app).get("/contract-attach/k", headers=signed).data == b"in memory"


def test_an_overwritten_key_stays_readable_and_its_etag_is_its_md5(s3):
    with moto("FakeKey.dispose, FakeKey.etag (both replaced)"):
        s3.create_bucket("contract-dispose", "us-east-1")
        s3.put("contract-dispose", "k", b"first", {})
        first = s3.get("contract-dispose", "k")
        s3.put("contract-dispose", "k", b"second", {})  # moto disposes the first key object
        assert s3.read(first) == b"first"
        assert s3.info(first).etag == hashlib.md5(b"first").hexdigest()


def test_a_deep_copy_of_a_stored_key_shares_its_blob(s3, tmp_path):
    """moto deep-copies every version for ListObjectVersions: a copy must not read the bytes."""
    import copy

    with moto("FakeKey.__deepcopy__ (added), FakeKey.__getstate__/__setstate__"):
        s3.create_bucket("contract-copy", "us-east-1")
        info = KeyInfo(5, "5d41402abc4b2a76b9719d911017c592", {"x-amz-meta-owner": "me"})
        absent = tmp_path / "not-there"  # any read of it would fail
        s3.restore("contract-copy", "k", [(Version("v1", False, 0, info, {}, "d1"), str(absent))])
        stored = s3.get("contract-copy", "k")
        duplicate = copy.deepcopy(stored)
        assert s3.info(duplicate) == info and duplicate.version_id == "v1"
        assert duplicate._value_buffer is not stored._value_buffer
        absent.write_bytes(b"hello")
        assert s3.read(duplicate) == b"hello"
        duplicate._metadata["x-amz-meta-owner"] = "other"
        assert s3.info(stored) == info  # nothing shared but the file

        s3.put("contract-copy", "m", b"in memory", {})  # bytes not in a blob: moto's own copy
        in_memory = s3.get("contract-copy", "m")
        assert s3.read(copy.deepcopy(in_memory)) == b"in memory"


def test_s3_model_objects_are_not_tracked(s3):
    with moto("BaseModel.instances_tracked"):
        from moto.s3.models import FakeAcl, FakeKey

        s3.create_bucket("contract-tracked", "us-east-1")
        for i in range(20):
            s3.put("contract-tracked", f"k{i}", b"x", {})
        assert len(FakeKey.instances_tracked) == 0
        assert len(FakeAcl.instances_tracked) == 0


def test_motos_process_wide_reset_leaves_an_adapter_alone(s3):
    """moto empties every backend it knows of (and tracks models again) when a test of the same
    process starts `mock_aws`: an adapter's backend, the data directory's S3, is not one of them."""
    with moto("BackendDict._instances, BackendDict.reset, model_instances.reset_model_data"):
        from moto import mock_aws
        from moto.s3.models import FakeKey

        s3.create_bucket("contract-mock-aws", "us-east-1")
        s3.put("contract-mock-aws", "k", b"kept", {})
        try:
            with mock_aws():
                pass
            assert s3.has_bucket("contract-mock-aws")
            answer = Client(s3.app).get("/contract-mock-aws/k", headers={"Authorization": SIGNED})
            assert answer.status_code == 200 and answer.data == b"kept"
            for i in range(5):
                s3.put("contract-mock-aws", f"more{i}", b"x", {})
            assert len(FakeKey.instances_tracked) == 0
        finally:
            s3.reset()


def test_forget_and_reset_drop_keys_and_buckets(s3):
    with moto("FakeBucket.keys (del), s3_backends.reset, s3_backends.bucket_accounts"):
        s3.create_bucket("contract-forget", "us-east-1")
        s3.put("contract-forget", "k", b"x", {})
        s3.forget("contract-forget", "k")
        assert s3.get("contract-forget", "k") is None
        assert s3.keys("contract-forget") == []
        s3.delete_bucket("contract-forget")
        s3.create_bucket("contract-forget", "us-east-1")  # the name is free again
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

    def serve() -> None:
        with contextlib.suppress(OSError):  # closing the socket under select() ends the loop
            server.run()

    thread = threading.Thread(target=serve, daemon=True)
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


def _metadata_app(environ, start_response):
    start_response("200 OK", [("Content-Length", "0"), ("x-amz-meta-owner", "me")])
    return [b""]


def test_task_class_keeps_the_case_of_metadata_headers():
    with waitress("HTTPChannel.task_class, WSGITask.build_response_header"):
        server = waitress_server.Server(_metadata_app, host="127.0.0.1", port=0, threads=1)

        def serve() -> None:
            with contextlib.suppress(OSError):
                server.run()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                received = b""
                while chunk := conn.recv(4096):
                    received += chunk
            assert b"\r\nx-amz-meta-owner: me\r\n" in received
            assert b"\r\nContent-Length: 0\r\n" in received  # the others keep waitress's case
        finally:
            server.close()
            thread.join(5)


def test_maintenance_drops_connections_whose_headers_are_overdue():
    names = (
        "BaseWSGIServer.maintenance, .active_channels, HTTPChannel.received, .request, "
        "request.headers_finished, channel.will_close"
    )
    with waitress(names):
        server = waitress_server.Server(
            _hello, host="127.0.0.1", port=0, threads=1, header_timeout=1, idle_timeout=30
        )

        def serve() -> None:
            with contextlib.suppress(OSError):
                server.run()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHo")
                conn.settimeout(5)
                assert conn.recv(1024) == b""  # closed by the server, not timed out here
        finally:
            server.close()
            thread.join(5)


def test_stop_answers_the_requests_in_flight_then_closes_every_connection():
    names = (
        "wasyncore.loop, .close_all, dispatcher.close, BaseWSGIServer._map, .pull_trigger, "
        ".task_dispatcher, TaskDispatcher.shutdown, HTTPChannel.requests, .request, "
        ".total_outbufs_len, .will_close"
    )
    started = threading.Event()

    def slow(environ, start_response):
        started.set()
        time.sleep(0.5)
        start_response("200 OK", [("Content-Length", "4")])
        return [b"done"]

    with waitress(names):
        server = waitress_server.Server(slow, host="127.0.0.1", port=0, threads=2)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as idle,
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as busy,
        ):
            busy.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert started.wait(5)
            server.stop()
            received = b""
            while not received.endswith(b"done"):
                chunk = busy.recv(4096)
                assert chunk, f"the connection closed after {received!r}"
                received += chunk
            assert received.startswith(b"HTTP/1.1 200 OK")
            assert idle.recv(1024) == b""  # an idle connection is closed, not kept
            thread.join(5)
            assert not thread.is_alive()
            with pytest.raises(OSError):  # no new connection is accepted
                socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
