"""What the console shows beside the API's answers: which accounts and regions hold resources,
and how many models each project has (no Rekognition operation answers either)."""

from __future__ import annotations

from collections.abc import Sequence

from fakerek.operations.services import Services
from fakerek.store import console


def scopes(services: Services) -> list[tuple[str, str]]:
    """(account, region) of every live project, sorted."""
    with services.store.read() as conn:
        return console.scopes(conn, services.clock.now_ms())


def version_counts(services: Services, project_arns: Sequence[str]) -> dict[str, int]:
    """Live models per project ARN (projects without models are left out)."""
    with services.store.read() as conn:
        return console.version_counts(conn, project_arns, services.clock.now_ms())
