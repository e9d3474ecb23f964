"""One version, from `__version__` in fakerek/__init__.py: the package metadata (pyproject reads
it), `fakerek --version`, the health endpoint, the console's footer and the changelog agree."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from fakerek import __version__

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_metadata_and_the_command_line_say_the_version():
    assert version("fakerek") == __version__
    done = subprocess.run(
        [sys.executable, "-m", "fakerek", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"fakerek {__version__}"


def test_the_health_endpoint_and_every_console_page_say_the_version(client):
    assert client.get("/_fakerek/health").get_json() == {"status": "ok", "version": __version__}
    for path in ("/", "/test-double", "/project?arn=nonsense"):  # the last is an error page
        page = client.get("/_fakerek/console" + path).get_data(as_text=True)
        assert f'<footer class="version">fakerek {__version__}</footer>' in page, path


def test_the_changelog_names_the_version_after_its_unreleased_changes():
    headings = re.findall(r"^## (.+)$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings[0] == "Unreleased"
    assert headings[1].split()[0] == __version__
