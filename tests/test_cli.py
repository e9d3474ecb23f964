"""The command lines: `fakerek serve` settings, and the AWS CLI talking to the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakerek import __version__, config
from fakerek.testing import FakerekServer

ROOT = Path(__file__).resolve().parent.parent


def aws(
    server: FakerekServer, *args: str, endpoint_flag: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "awscli", "rekognition", *args, "--output", "json"]
    if endpoint_flag:
        command += ["--endpoint-url", server.endpoint]
    environ = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **(env or {}),
    }
    return subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120)


def test_aws_cli_round_trip(fakerek):
    created = aws(
        fakerek, "create-project", "--project-name", "cli-proj", "--tags", "team=vision,stage=dev"
    )
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["ProjectArn"]
    assert arn.startswith("arn:aws:rekognition:us-east-1:123456789012:project/cli-proj/")
    described = aws(
        fakerek,
        "describe-projects",
        endpoint_flag=False,
        env={"AWS_ENDPOINT_URL_REKOGNITION": fakerek.endpoint},
    )
    assert described.returncode == 0, described.stderr
    [project] = json.loads(described.stdout)["ProjectDescriptions"]
    assert project["ProjectArn"] == arn and project["Status"] == "CREATED"
    tags = aws(fakerek, "list-tags-for-resource", "--resource-arn", arn)
    assert json.loads(tags.stdout)["Tags"] == {"team": "vision", "stage": "dev"}


def test_aws_cli_reports_server_errors(fakerek):
    result = aws(fakerek, "describe-projects", "--max-results", "101")
    assert result.returncode != 0
    assert "ValidationException" in result.stderr
    assert "Member must have value less than or equal to 100" in result.stderr


def test_settings_come_from_flags_over_environment(tmp_path):
    env = {config.env_name("account_id"): "444455556666", config.env_name("region"): "eu-west-1"}
    with FakerekServer(str(tmp_path / "d"), env=env, args=["--region", "ap-south-1"]) as server:
        unsigned = server.client()  # signed for us-east-1: the scope wins over the default
        arn = unsigned.create_project(ProjectName="p")["ProjectArn"]
        assert ":444455556666:" in arn and ":us-east-1:" in arn


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--port", "eighty"], "port: 'eighty' is not a valid int"),
        (["--account-id", "123"], "account_id: must be exactly 12 digits"),
        (["--timing", "slow"], "invalid choice: 'slow'"),
        (["--delay-training", "-3"], "delay_training: must be >= 0"),
    ],
)
def test_bad_settings_exit_with_a_message(tmp_path, args, fragment):
    result = subprocess.run(
        [sys.executable, "-m", "fakerek", "serve", "--data-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert fragment in result.stderr


def test_bad_environment_setting_exits_with_a_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fakerek", "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FAKEREK_THREADS": "0"},
    )
    assert result.returncode == 2 and "threads: must be >= 1" in result.stderr


def test_version_flag():
    result = subprocess.run(
        [sys.executable, "-m", "fakerek", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == f"fakerek {__version__}"


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    for name in config.FIELDS:
        assert config.flag_name(name) in readme, name
        assert config.env_name(name) in readme, name


def test_ci_runs_the_readme_test_command_in_both_passes():
    readme = (ROOT / "README.md").read_text()
    [command] = [line for line in readme.splitlines() if line.startswith("pip install -e")]
    assert "pytest" in command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines.count(command) == 1  # in `readme_tests`, called by both passes
    assert ci_lines.count("readme_tests") == 2  # newest versions, then lowest versions
