"""Run the shell steps of docs/ci.md's CI recipes as GitHub Actions and GitLab CI would, for a
stand-in project (docs/ci/project/: a tests folder using plain boto3 clients), so that the recipes
cannot rot. Called by .ci/run.

    python docs/ci/run_recipes.py

Each recipe runs in a copy of the stand-in project, in one fresh virtual environment (first on
PATH, as setup-python's or the image's Python would be). GitHub: every `run:` step in its own
`bash -e`, steps marked `if: always()` even after a failure. GitLab: `before_script` and `script`
as one `bash -eo pipefail` script, then `after_script` in a shell of its own. Only three values
of the recipes' environment change: FAKEREK_PACKAGE (this checkout), the port (a free one; the
machine may be shared) and FAKEREK_DATA_DIR (a temporary directory). Exits non-zero if a recipe
fails.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BLOCK = re.compile(r"^## (?P<title>.+?)$.*?^```yaml\n(?P<body>.*?)^```", re.M | re.S)


def recipes() -> dict[str, Any]:
    """The YAML of each recipe, by its section's title."""
    text = (HERE.parent / "ci.md").read_text(encoding="utf-8")
    return {m["title"]: yaml.safe_load(m["body"]) for m in BLOCK.finditer(text)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(declared: dict[str, Any], bin_dir: Path, work: Path) -> dict[str, str]:
    port = str(free_port())
    env = {**os.environ, **{name: str(value) for name, value in declared.items()}}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONPATH", None)
    env["FAKEREK_PACKAGE"] = str(ROOT)
    env["FAKEREK_DATA_DIR"] = str(work / "fakerek-data")
    assert declared["AWS_ENDPOINT_URL"].endswith(":" + declared["FAKEREK_PORT"])
    env["FAKEREK_PORT"] = port
    env["AWS_ENDPOINT_URL"] = declared["AWS_ENDPOINT_URL"].rsplit(":", 1)[0] + ":" + port
    return env


def bash(script: str, options: list[str], env: dict[str, str], cwd: Path) -> bool:
    print(f"$ {script.strip()}", flush=True)
    done = subprocess.run(
        ["bash", *options, "-c", script], env=env, cwd=cwd, stdin=subprocess.DEVNULL
    )
    return done.returncode == 0


def github(recipe: dict[str, Any], bin_dir: Path, work: Path) -> bool:
    [job] = recipe["jobs"].values()
    env = environment(job["env"], bin_dir, work)
    ok = True
    for step in job["steps"]:
        if "run" not in step:  # checkout and setup-python: the copy and the venv stand in
            continue
        if ok or step.get("if") == "always()":
            ok = bash(step["run"], ["-e"], env, work) and ok
    return ok


def gitlab(recipe: dict[str, Any], bin_dir: Path, work: Path) -> bool:
    [job] = recipe.values()
    env = environment(job["variables"], bin_dir, work)
    script = "\n".join(job["before_script"] + job["script"])
    ok = bash(script, ["-e", "-o", "pipefail"], env, work)
    return bash("\n".join(job["after_script"]), ["-e"], env, work) and ok


def main() -> int:
    found = recipes()
    runners = {"GitHub Actions": github, "GitLab CI": gitlab}
    assert set(found) >= set(runners), f"docs/ci.md has recipes {sorted(found)}"
    failed = []
    with tempfile.TemporaryDirectory(prefix="fakerek-ci-recipes-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        for title, run in runners.items():
            print(f"== docs/ci.md: {title}", flush=True)
            work = Path(tmp) / title.replace(" ", "-")
            shutil.copytree(HERE / "project", work)
            if not run(found[title], env_dir / "bin", work):
                failed.append(title)
    if failed:
        print(f"docs/ci.md: the {' and '.join(failed)} recipe failed", file=sys.stderr)
        return 1
    print("docs/ci.md: both recipes passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
