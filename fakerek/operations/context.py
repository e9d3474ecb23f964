"""What an operation knows about the call it serves: built by `for_request` (a signed request) or
`for_scope` (the console), then handed to `dispatch.invoke`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fakerek.api import sigv4
from fakerek.api.sigv4 import Scope
from fakerek.config import Settings

if TYPE_CHECKING:
    from fakerek.operations.services import Services
    from fakerek.s3.objects import Objects
    from fakerek.store.db import Store


@dataclass(frozen=True)
class Ctx:
    services: Services
    scope: Scope
    settings: Settings  # the live settings as they were when the request arrived
    now_ms: int  # the server clock when the call ran (after settling: `settling.settle`)
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
        """Users' S3 objects, as the caller's account reaches them under this request's
        settings."""
        return self.services.objects(self.settings, self.account)


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
        now_ms=services.clock.now_ms(),
        operation=operation,
        request_id=request_id,
    )
