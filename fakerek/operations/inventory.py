"""What the console shows beside the API's answers: which accounts and regions hold resources,
and how many models each project has (no Rekognition operation answers either)."""

from __future__ import annotations

from collections.abc import Sequence

from fakerek.domain import lifecycle
from fakerek.store import console
from fakerek.store.db import Store


def scopes(store: Store) -> list[tuple[str, str]]:
    """(account, region) of every live project, sorted."""
    with store.read() as conn:
        return console.scopes(conn, lifecycle.now_ms())


def version_counts(store: Store, project_arns: Sequence[str]) -> dict[str, int]:
    """Live models per project ARN (projects without models are left out)."""
    with store.read() as conn:
        return console.version_counts(conn, project_arns, lifecycle.now_ms())
