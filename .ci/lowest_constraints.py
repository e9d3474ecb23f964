"""Print pip constraints pinning every direct dependency to the lowest version pyproject declares.

Used by .ci/run for its second pass: `name==lower` for each requirement with a `>=` (or `==`)
bound, in the main dependencies and the `test` extra.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
requirements = project["dependencies"] + project["optional-dependencies"]["test"]
pins: dict[str, str] = {}
for requirement in requirements:
    name = re.match(r"[A-Za-z0-9_.-]+", requirement)
    lower = re.search(r"(?:>=|==)\s*([0-9][^,;\s]*)", requirement)
    if name and lower:
        pins[name.group(0).lower()] = lower.group(1)
print("\n".join(f"{name}=={version}" for name, version in sorted(pins.items())))
