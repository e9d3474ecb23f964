"""Connections: many idle or half-sent clients never starve a new one; slow headers are dropped."""

from __future__ import annotations

import socket
import time
import urllib.parse

import pytest

from fakerek.testing import FakerekServer


@pytest.fixture
def limited(tmp_path):
    server = FakerekServer(
        str(tmp_path / "data"), args=["--request-header-timeout", "1", "--idle-timeout", "2"]
    ).start()
    yield server
    server.close()


def _address(server: FakerekServer) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server.endpoint)
    return parts.hostname or "127.0.0.1", parts.port or 80


def test_idle_and_half_sent_connections_do_not_starve_a_new_client(fakerek):
    held = []
    try:
        for number in range(240):
            conn = socket.create_connection(_address(fakerek), timeout=5)
            if number % 2:  # half a request, never finished
                conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Tar")
            held.append(conn)
        client = fakerek.client(config_options={"connect_timeout": 5, "read_timeout": 5})
        assert client.describe_projects()["ProjectDescriptions"] == []
    finally:
        for conn in held:
            conn.close()


def _closed_within(conn: socket.socket, seconds: float) -> bool:
    conn.settimeout(seconds)
    try:
        return conn.recv(1024) == b""
    except TimeoutError:
        return False


def test_slow_headers_and_idle_connections_are_dropped(limited):
    trickling = socket.create_connection(_address(limited), timeout=5)
    trickling.sendall(b"GET /_fakerek/health HTTP/1.1\r\nHo")
    idle = socket.create_connection(_address(limited), timeout=5)
    started = time.monotonic()
    assert _closed_within(trickling, 6)
    assert _closed_within(idle, 8)
    assert time.monotonic() - started < 12
    trickling.close()
    idle.close()
    # a client that finishes its headers in time is served as usual
    assert limited.control("GET", "health")["status"] == "ok"
