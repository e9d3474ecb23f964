"""fakerek's pytest plugin: a real server for the test session, and fixtures to reach it.

Registered by the `pytest11` entry point `fakerek` when fakerek is installed (`-p no:fakerek`
turns it off). The server's settings and mode are set in pytest's configuration file

    [pytest]
    fakerek_settings =
        timing = realistic
        delay_training = 2
    fakerek_mode = in-process

or on the command line, which wins: `--fakerek-setting timing=realistic` (repeatable),
`--fakerek-mode in-process`; or in code, by overriding the `fakerek_settings` or `fakerek_mode`
fixture in a conftest.py. Under pytest-xdist every worker has a server of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from fakerek.config import SettingError
from fakerek.testing.server import MODES, FakerekServer, Mode, canonical_settings

_SETTINGS = pytest.StashKey[dict[str, object]]()
_MODE = pytest.StashKey[Mode]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakerek", "fakerek (the session's Rekognition Custom Labels server)")
    group.addoption(
        "--fakerek-setting",
        action="append",
        default=[],
        dest="fakerek_setting",
        metavar="NAME=VALUE",
        help="a setting of the session's fakerek server, as `fakerek serve --NAME VALUE` names "
        "it (timing=realistic, delay_training=2); repeatable; wins over the ini option",
    )
    group.addoption(
        "--fakerek-mode",
        choices=MODES,
        default=None,
        help="run the session's server as its own process (subprocess, the default) or from a "
        "thread of the test process (in-process: starts faster, a debugger steps into it)",
    )
    parser.addini(
        "fakerek_settings",
        type="linelist",
        default=[],
        help="settings of the session's fakerek server, one NAME = VALUE a line",
    )
    parser.addini("fakerek_mode", default="subprocess", help="subprocess (default) or in-process")


def parse_settings(lines: Iterable[str]) -> dict[str, object]:
    """`NAME=VALUE` lines as checked settings (raises SettingError)."""
    found = {}
    for line in lines:
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise SettingError(f"{line!r} is not NAME=VALUE")
        found[name.strip()] = value.strip()
    return canonical_settings(found)


def pytest_configure(config: pytest.Config) -> None:
    """Check the settings and the mode before any test runs: a typo fails the run at once."""
    try:
        settings: dict[str, object] = {
            **parse_settings(config.getini("fakerek_settings")),
            **parse_settings(config.getoption("fakerek_setting")),
        }
    except SettingError as error:
        raise pytest.UsageError(f"fakerek settings: {error}") from None
    mode = config.getoption("fakerek_mode") or config.getini("fakerek_mode")
    if mode not in MODES:
        raise pytest.UsageError(f"fakerek_mode: {mode!r} is not one of {', '.join(MODES)}")
    config.stash[_SETTINGS] = settings
    config.stash[_MODE] = mode


@pytest.fixture(scope="session")
def fakerek_settings(pytestconfig: pytest.Config) -> dict[str, object]:
    """The settings of the session's server, by name: the ini option `fakerek_settings`, then
    `--fakerek-setting`. Override it in a conftest.py to compute them:

        @pytest.fixture(scope="session")
        def fakerek_settings(fakerek_settings):
            return {**fakerek_settings, "timing": "realistic", "delay_training": 2}
    """
    chosen: dict[str, object] = pytestconfig.stash[_SETTINGS]
    return dict(chosen)


@pytest.fixture(scope="session")
def fakerek_mode(pytestconfig: pytest.Config) -> Mode:
    """How the session's server runs: "subprocess" (its own process, the default) or
    "in-process" (a thread of the test process); from `--fakerek-mode` or the ini option
    `fakerek_mode`."""
    return pytestconfig.stash[_MODE]


@pytest.fixture(scope="session")
def fakerek_server(
    tmp_path_factory: pytest.TempPathFactory,
    fakerek_settings: dict[str, object],
    fakerek_mode: Mode,
) -> Iterator[FakerekServer]:
    """One fakerek server for the test session (one per pytest-xdist worker), on a free loopback
    port with a temporary data directory. Its state carries over from test to test: use
    `fakerek` for a fresh one."""
    data_dir = None if "data_dir" in fakerek_settings else str(tmp_path_factory.mktemp("fakerek"))
    with FakerekServer(data_dir, settings=fakerek_settings, mode=fakerek_mode) as server:
        yield server


@pytest.fixture
def fakerek(fakerek_server: FakerekServer) -> FakerekServer:
    """The session's server, reset before the test: no projects, buckets or models; start-up
    settings; no faults or rules.

        def test_throttled(fakerek, rekognition):
            fakerek.inject_fault("DescribeProjects", "ThrottlingException")
            with pytest.raises(rekognition.exceptions.ThrottlingException):
                rekognition.describe_projects()
    """
    fakerek_server.reset()
    return fakerek_server


@pytest.fixture
def rekognition(fakerek: FakerekServer) -> Any:
    """A boto3 Rekognition client for the freshly reset server (account 123456789012,
    us-east-1, no retries); `fakerek.client("s3")` makes an S3 client for the same server."""
    return fakerek.client("rekognition")
