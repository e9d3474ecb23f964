"""A real fakerek server for test suites: a context manager and a pytest plugin.

    with FakerekServer() as server:
        rekognition = server.client("rekognition")

Under pytest (the plugin is registered through the `pytest11` entry point) the fixtures are:
`fakerek_server` (one server per test session), `fakerek` (that server, reset before the test)
and `rekognition` (a boto3 client for it). The server runs in its own process, exactly as
`fakerek serve` does, on a free loopback port with a temporary data directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["FakerekServer", "ServerFailed"]

_READY = re.compile(r"ready on (http://\S+)")


class ServerFailed(RuntimeError):
    """The server did not start, or stopped unexpectedly; the message carries its log."""


class FakerekServer:
    def __init__(
        self,
        data_dir: str | None = None,
        *,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
    ):
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="fakerek-")
        self.args = list(args)
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.endpoint = ""
        self.log_path = os.path.join(self.data_dir, "server.log")
        self._process: subprocess.Popen[str] | None = None

    # -- process control -----------------------------------------------------------------------

    def start(self) -> FakerekServer:
        os.makedirs(self.data_dir, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "fakerek",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            self.data_dir,
            *self.args,
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        try:
            self._process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                text=True,
            )
        finally:
            log.close()
        ready = threading.Event()
        threading.Thread(target=self._read_stdout, args=(ready,), daemon=True).start()
        if not ready.wait(self.startup_timeout) or not self.endpoint:
            self.kill()
            raise ServerFailed(
                f"fakerek did not start within {self.startup_timeout} s:\n" + self.log()
            )
        return self

    def _read_stdout(self, ready: threading.Event) -> None:
        assert self._process and self._process.stdout
        for line in self._process.stdout:
            match = _READY.search(line)
            if match and not ready.is_set():
                self.endpoint = match.group(1)
                ready.set()
        ready.set()  # the process ended: wake the waiter, which sees no endpoint

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def stop(self, timeout: float = 10.0) -> int:
        """Stop with SIGTERM, as a user's Ctrl-C would; return the exit status."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """Stop with SIGKILL, as a crash would."""
        return self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: int, timeout: float) -> int:
        process, self._process = self._process, None
        self.endpoint = ""
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def restart(self) -> FakerekServer:
        self.stop()
        return self.start()

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> FakerekServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- clients -------------------------------------------------------------------------------

    def client(
        self,
        service: str = "rekognition",
        *,
        account: str | None = None,
        region: str = "us-east-1",
        max_attempts: int = 1,
        **kwargs: Any,
    ) -> Any:
        """A boto3 client for this server. `account` (12 digits) is sent as the access key id,
        which fakerek takes as the caller's account. Retries are off unless asked for, so an
        injected fault reaches the test instead of being retried away."""
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            **kwargs.pop("config_options", {}),
        )
        # a session of its own: boto3's default session is not safe to share between threads
        session = boto3.session.Session()
        kwargs.setdefault("endpoint_url", self.endpoint)
        return session.client(
            service,
            region_name=region,
            aws_access_key_id=account or "testing",
            aws_secret_access_key="testing",
            config=config,
            **kwargs,
        )

    def control(self, method: str, name: str, body: Any = None) -> Any:
        """Call `/_fakerek/<name>` and return its JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.endpoint}/_fakerek/{name}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ValueError(
                f"{method} /_fakerek/{name}: {error.code} {error.read().decode(errors='replace')}"
            ) from None

    def reset(self) -> None:
        self.control("POST", "reset")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change live settings, e.g. `configure(timing="realistic", delays={"deleting": 2})`."""
        settings: dict[str, Any] = self.control("POST", "config", changes)
        return settings

    def inject_fault(
        self, operation: str, error: str, message: str | None = None, count: int = 1
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {"operation": operation, "error": error, "count": count}
        if message is not None:
            spec["message"] = message
        fault: dict[str, Any] = self.control("POST", "faults", spec)
        return fault

    def freeze(self) -> float:
        """Stop the server's clock: statuses, timestamps, billed time, autoscaling and usage
        move only with `advance`. Returns the clock's time (epoch seconds)."""
        return float(self.control("POST", "clock", {"freeze": True})["now"])

    def unfreeze(self) -> float:
        """Let the clock run on from where it stands (a reset returns it to wall time)."""
        return float(self.control("POST", "clock", {"freeze": False})["now"])

    def advance(self, seconds: float) -> float:
        """Move the clock `seconds` forward, frozen or not; returns once background work due by
        then (a training past its delay) has ended. Returns the clock's new time."""
        return float(self.control("POST", "clock", {"advance": seconds})["now"])


# -- pytest plugin ------------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # used outside pytest: the context manager above is all there is
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def fakerek_server(tmp_path_factory: Any) -> Iterator[FakerekServer]:
        """One fakerek server for the whole test session."""
        with FakerekServer(str(tmp_path_factory.mktemp("fakerek"))) as server:
            yield server

    @pytest.fixture
    def fakerek(fakerek_server: FakerekServer) -> FakerekServer:
        """The session's server, reset to a fresh state (resources, settings, faults)."""
        fakerek_server.reset()
        return fakerek_server

    @pytest.fixture
    def rekognition(fakerek: FakerekServer) -> Any:
        """A boto3 Rekognition client for a freshly reset server."""
        return fakerek.client("rekognition")
