"""The pytest plugin and FakerekServer's two modes, as a user's suite meets them: settings without
code, the in-process server (same process, a debugger's view, a clean stop), pytest-xdist with
the example suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from fakerek.config import SettingError
from fakerek.testing import FakerekServer

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest in a process of its own, as a user's suite runs it, from `folder`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FAKEREK_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


# -- settings without code ------------------------------------------------------------------------

SUITE_INI = """\
[pytest]
fakerek_settings =
    timing = realistic
    delay-training = 3
    max_projects = 5
"""

SUITE_CONFTEST = """\
import pytest

@pytest.fixture(scope="session")
def fakerek_settings(fakerek_settings):
    return {**fakerek_settings, "max_tags_per_resource": 7}
"""

SUITE_TEST = """\
import json, os, threading

def test_what_the_server_was_given(fakerek, fakerek_mode):
    seen = {
        "config": fakerek.control("GET", "config"),
        "mode": fakerek_mode,
        "same_process": fakerek.pid == os.getpid(),
        "serving_threads": [t.name for t in threading.enumerate() if t.name.startswith("fakerek-")],
    }
    with open(os.environ["SEEN"], "w") as out:
        json.dump(seen, out)
"""


@pytest.mark.parametrize("mode", [None, "in-process"])  # None: the default
def test_settings_from_the_ini_file_the_command_line_and_a_fixture(tmp_path, mode):
    (tmp_path / "pytest.ini").write_text(SUITE_INI)
    (tmp_path / "conftest.py").write_text(SUITE_CONFTEST)
    (tmp_path / "test_suite.py").write_text(SUITE_TEST)
    args = ["--fakerek-setting", "max_projects=2"] + (["--fakerek-mode", mode] if mode else [])
    done = run_pytest(tmp_path, *args, SEEN=str(tmp_path / "seen.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    config = seen["config"]
    assert config["timing"] == "realistic" and config["delays"]["training"] == 3  # the ini file
    assert config["max_projects"] == 2  # the command line wins over the ini file
    assert config["max_tags_per_resource"] == 7  # the conftest's fixture
    assert config["delays"]["starting"] == 30  # untouched: the default
    assert seen["mode"] == (mode or "subprocess")  # subprocess unless asked
    in_process = seen["mode"] == "in-process"
    assert seen["same_process"] is in_process
    assert bool(seen["serving_threads"]) is in_process


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fakerek-setting", "timing=slow"], "timing: 'slow' is not one of instant, realistic"),
        (["--fakerek-setting", "speed=11"], "'speed' is not a setting"),
        (["--fakerek-setting", "timing"], "'timing' is not NAME=VALUE"),
        (["-o", "fakerek_mode=threaded"], "fakerek_mode: 'threaded' is not one of"),
    ],
)
def test_a_bad_setting_stops_the_run_before_any_test(tmp_path, args, message):
    (tmp_path / "test_never.py").write_text("def test_never(fakerek):\n    raise AssertionError\n")
    done = run_pytest(tmp_path, *args)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert message in done.stderr
    assert "test_never" not in done.stdout


def test_a_handle_checks_its_settings_before_starting():
    with pytest.raises(SettingError, match="max_projects: 'many' is not a valid int"):
        FakerekServer(settings={"max_projects": "many"})
    with pytest.raises(ValueError, match="mode"):
        FakerekServer(mode="thread")  # type: ignore[arg-type]


# -- in-process -----------------------------------------------------------------------------------


def test_in_process_the_handlers_run_where_a_debugger_sees_them(tmp_path):
    """A debugger follows threads through a trace function (`threading.settrace`, as pdb,
    debugpy and PyCharm do): in-process, the operation's own frame is seen, in this process."""
    seen: list[tuple[str, str]] = []

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.endswith(
            os.path.join("fakerek", "operations", "projects.py")
        ):
            seen.append((frame.f_code.co_name, threading.current_thread().name))
        return None

    threading.settrace(tracer)  # for the threads started from now on: the server's
    try:
        server = FakerekServer(str(tmp_path / "data"), mode="in-process").start()
    finally:
        threading.settrace(None)  # type: ignore[arg-type]
    try:
        assert server.pid == os.getpid()
        server.client().create_project(ProjectName="traced")
        assert ("create_project", threading.main_thread().name) not in seen
        assert any(name == "create_project" for name, _ in seen), seen
    finally:
        server.close()


def _serving_threads(expected: list[str] | None = None) -> list[str]:
    """The names of the threads serving requests; with `expected`, once they are those (a
    worker thread is listed until it has returned, a moment after the server let it go)."""
    deadline = time.monotonic() + 10
    while True:
        names = [
            t.name for t in threading.enumerate() if t.name.startswith(("fakerek-", "waitress-"))
        ]
        if expected is None or names == expected or time.monotonic() > deadline:
            return names
        time.sleep(0.05)


def test_in_process_a_stop_is_clean_and_a_restart_finds_everything(tmp_path):
    before = _serving_threads()
    server = FakerekServer(str(tmp_path / "data"), mode="in-process", settings={"max_projects": 1})
    server.start()
    client, s3 = server.client(), server.client("s3")
    arn = client.create_project(ProjectName="kept")["ProjectArn"]
    with pytest.raises(ClientError, match="LimitExceededException"):  # the setting applies
        client.create_project(ProjectName="one-too-many")
    s3.create_bucket(Bucket="kept-bucket")
    s3.put_object(Bucket="kept-bucket", Key="k", Body=b"kept")
    assert len(_serving_threads()) > len(before)
    assert server.stop() == 0
    assert _serving_threads(before) == before  # the loop and the workers ended
    with pytest.raises(RuntimeError, match="mode='subprocess'"):
        server.kill()
    # the data directory was released: another process may open it
    with FakerekServer(server.data_dir) as other:
        assert other.client().describe_projects()["ProjectDescriptions"][0]["ProjectArn"] == arn
    server.start()
    try:
        assert server.client().describe_projects()["ProjectDescriptions"][0]["ProjectArn"] == arn
        assert server.client("s3").get_object(Bucket="kept-bucket", Key="k")["Body"].read() == (
            b"kept"
        )
    finally:
        server.close()
    assert _serving_threads(before) == before


def test_two_in_process_servers_share_nothing(tmp_path):
    first = FakerekServer(str(tmp_path / "one"), mode="in-process").start()
    try:
        first.client("s3").create_bucket(Bucket="first-only")
        first.client().create_project(ProjectName="first")
        with FakerekServer(str(tmp_path / "two"), mode="in-process") as second:
            second.client("s3").create_bucket(Bucket="second-only")
            assert [b["Name"] for b in second.client("s3").list_buckets()["Buckets"]] == [
                "second-only"
            ]
            assert second.client().describe_projects()["ProjectDescriptions"] == []
            second.reset()
        assert [b["Name"] for b in first.client("s3").list_buckets()["Buckets"]] == ["first-only"]
        assert len(first.client().describe_projects()["ProjectDescriptions"]) == 1
    finally:
        first.close()


# -- pytest-xdist ---------------------------------------------------------------------------------

RECORDER = """\
import json, os
import pytest

@pytest.fixture(autouse=True)
def _record_server(fakerek_server):
    with open(os.environ["SERVERS"], "a") as out:
        out.write(json.dumps([os.environ.get("PYTEST_XDIST_WORKER"), fakerek_server.endpoint,
                              fakerek_server.pid]) + "\\n")
"""


def test_the_example_suite_under_xdist_gets_a_server_per_worker(tmp_path):
    """Every example test creates the same project and bucket names in a reset server: a
    server shared between workers would refuse the second or lose it to another's reset."""
    (tmp_path / "record_servers.py").write_text(RECORDER)
    servers = tmp_path / "servers.jsonl"
    done = run_pytest(
        ROOT,
        "-n",
        "4",
        "-p",
        "record_servers",
        str(ROOT / "examples"),
        PYTHONPATH=str(tmp_path),
        SERVERS=str(servers),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 workers" in done.stdout and " passed" in done.stdout
    used = {tuple(json.loads(line)) for line in servers.read_text().splitlines()}
    workers = {worker for worker, _, _ in used}
    assert len(workers) >= 2 and None not in workers, used
    assert len({(endpoint, pid) for _, endpoint, pid in used}) == len(workers), used
