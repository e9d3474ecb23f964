"""What an operation knows about the request it serves, built in one place (`for_request`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fakerek.api import sigv4
from fakerek.api.sigv4 import Scope
from fakerek.config import Settings
from fakerek.domain import lifecycle

if TYPE_CHECKING:
    from fakerek.operations.services import Services
    from fakerek.s3.objects import Objects
    from fakerek.store.db import Store


@dataclass(frozen=True)
class Ctx:
    services: Services
    scope: Scope
    settings: Settings  # the live settings as they were when the request arrived
    now_ms: int
    operation: str
    request_id: str

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def account(self) -> str:
        return self.scope.account

    @property
    def region(self) -> str:
        return self.scope.region

    @property
    def objects(self) -> Objects:
        """Users' S3 objects, as the settings of this request reach them."""
        return self.services.objects(self.settings)

    def settled(self, *arns: str) -> Ctx:
        """In instant timing, wait (bounded) for background work on these resources to end, as
        the timing model promises the next read its final state; return a ctx whose `now_ms`
        is after that wait."""
        if self.settings.timing != "instant" or not arns:
            return self
        for arn in arns:
            self.services.jobs.wait(arn, self.settings.max_wait_seconds)
        return dataclasses.replace(self, now_ms=max(self.now_ms, lifecycle.now_ms()))


def for_request(
    services: Services, authorization: str | None, operation: str, request_id: str
) -> Ctx:
    """The context of one request: the caller's scope read from its SigV4 `Authorization`
    header (the settings' account and region when it names none), a settings snapshot, now."""
    settings = services.config.snapshot()
    scope = sigv4.scope(authorization, settings.account_id, settings.region)
    return for_scope(services, scope, operation, request_id, settings)


def for_scope(
    services: Services,
    scope: Scope,
    operation: str,
    request_id: str,
    settings: Settings | None = None,
) -> Ctx:
    """The context of a call made for an explicit account and region (the console's selector)
    rather than a signed request; `settings` defaults to a snapshot of the live ones."""
    return Ctx(
        services=services,
        scope=scope,
        settings=settings or services.config.snapshot(),
        now_ms=lifecycle.now_ms(),
        operation=operation,
        request_id=request_id,
    )
