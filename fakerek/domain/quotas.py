"""Per-resource quotas that more than one operation enforces, each written once."""

from __future__ import annotations

from collections.abc import Set

from fakerek.api.errors import AwsError, InvalidParameter, ServiceQuotaExceeded
from fakerek.config import Settings


def _too_many_tags(limit: int, error: type[AwsError]) -> AwsError:
    return error(f"A resource can have at most {limit} tags.")


def tags_at_creation(settings: Settings, tags: Set[str]) -> None:
    """The tags a create or copy operation gives its new resource fit the quota."""
    if len(tags) > settings.max_tags_per_resource:
        raise _too_many_tags(settings.max_tags_per_resource, InvalidParameter)


def tags_after_tagging(settings: Settings, existing: Set[str], added: Set[str]) -> None:
    """TagResource: the resource's tags once these are added fit the quota."""
    if len(existing | added) > settings.max_tags_per_resource:
        raise _too_many_tags(settings.max_tags_per_resource, ServiceQuotaExceeded)
