"""`FakerekServer`: a real fakerek server on a free loopback port, and the handle tests talk to
it through (boto3 clients, the control API).

    with FakerekServer(settings={"timing": "realistic"}) as server:
        rekognition = server.client("rekognition")

It runs in one of two modes. "subprocess" (the default) runs `fakerek serve` as a process of its
own: nothing of the test process (monkeypatches, logging, a moto of the suite's own, a crash)
reaches it, and it is the server users run. "in-process" serves the same application from a
thread of the test process: no interpreter to start, and a debugger steps from the test into the
request's handler; but it shares the process's logging, environment and CPU (see README, "In your
own tests"). Two servers in one process, of either mode, share no state.
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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from fakerek import config

__all__ = ["MODES", "FakerekServer", "Mode", "ServerFailed", "canonical_settings"]

if TYPE_CHECKING:
    from fakerek.app.threaded import ThreadedServer

Mode = Literal["subprocess", "in-process"]
MODES: tuple[Mode, ...] = get_args(Mode)
_READY = re.compile(r"ready on (http://\S+)")


class ServerFailed(RuntimeError):
    """The server did not start, or stopped unexpectedly; the message carries its log."""


def canonical_settings(settings: Mapping[str, object]) -> dict[str, object]:
    """Settings by their names in `config.Settings` (`delay-training` is `delay_training`), each
    value checked; raises `config.SettingError` naming a setting that does not exist or a value
    it cannot take."""
    out: dict[str, object] = {}
    for given, value in settings.items():
        name = given.strip().replace("-", "_")
        if name not in config.FIELDS:
            raise config.SettingError(
                f"{given!r} is not a setting; settings: {', '.join(config.FIELDS)}"
            )
        config.coerce(name, value)
        out[name] = value
    return out


class FakerekServer:
    """A fakerek server (started by `start()` or `with`) and its clients.

    `settings` are `fakerek serve`'s, by name (`{"timing": "realistic", "delay_training": 2}`);
    `args` are more of its command-line flags; `env` adds environment variables (in-process, only
    the FAKEREK_* ones apply). Without a `data_dir` the server gets a temporary one, removed by
    `close()`.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        *,
        settings: Mapping[str, object] | None = None,
        mode: Mode = "subprocess",
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
    ):
        if mode not in MODES:
            raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
        self.mode: Mode = mode
        chosen = canonical_settings(settings or {})
        if "data_dir" in chosen:  # a setting like any other, but the handle keeps it too
            named = str(chosen.pop("data_dir"))
            if data_dir is not None and data_dir != named:
                raise ValueError(f"two data directories: {data_dir!r} and setting {named!r}")
            data_dir = named
        self.args = [
            part
            for name, value in chosen.items()
            for part in (config.flag_name(name), "none" if value is None else str(value))
        ] + list(args)
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="fakerek-")
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.endpoint = ""
        self.log_path = os.path.join(self.data_dir, "server.log")
        self._process: subprocess.Popen[str] | None = None
        self._threaded: ThreadedServer | None = None

    def __repr__(self) -> str:
        return f"<FakerekServer {self.mode} {self.endpoint or 'stopped'} {self.data_dir}>"

    # -- process control -----------------------------------------------------------------------

    def _serve_args(self) -> list[str]:
        return ["--host", "127.0.0.1", "--port", "0", "--data-dir", self.data_dir, *self.args]

    def start(self) -> FakerekServer:
        os.makedirs(self.data_dir, exist_ok=True)
        if self.mode == "in-process":
            return self._start_thread()
        command = [sys.executable, "-m", "fakerek", "serve", *self._serve_args()]
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

    def _start_thread(self) -> FakerekServer:
        from fakerek.app import cli
        from fakerek.app.threaded import ThreadedServer
        from fakerek.store.db import DataDirInUse, SchemaTooNew

        try:
            settings = cli.serve_settings(self._serve_args(), {**os.environ, **self.env})
            self._threaded = ThreadedServer(settings)
        except SystemExit as error:  # argparse refused one of `args`, and said why on stderr
            raise ServerFailed(f"fakerek did not start: bad arguments {self.args}") from error
        except (config.SettingError, DataDirInUse, SchemaTooNew, OSError) as error:
            raise ServerFailed(f"fakerek did not start: {error}") from error
        self.endpoint = f"http://127.0.0.1:{self._threaded.port}"
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
        """The server's process: the test process itself in-process."""
        if self.mode == "in-process":
            return os.getpid()
        assert self._process is not None, "not started"
        return self._process.pid

    def stop(self, timeout: float = 10.0) -> int:
        """Stop with SIGTERM, as a user's Ctrl-C would; return the exit status. In-process, the
        same clean stop: connections closed, serving threads ended, the data directory released."""
        threaded, self._threaded = self._threaded, None
        if threaded is not None:
            self.endpoint = ""
            threaded.close()
            return 0
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """Stop with SIGKILL, as a crash would (a server in its own process only)."""
        if self.mode == "in-process":
            raise RuntimeError("kill() needs a server in its own process (mode='subprocess')")
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
        """What a server in its own process wrote to its log (in-process, fakerek's records go
        to the test process's logging instead)."""
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
