"""What an operation knows about the request it serves."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from fakerek import lifecycle
from fakerek.capacity import Capacity
from fakerek.config import Settings
from fakerek.faults import Faults
from fakerek.jobs import Jobs
from fakerek.objects import Objects
from fakerek.rules import Rules
from fakerek.serving import Models
from fakerek.store.db import Store


@dataclass(frozen=True)
class Ctx:
    store: Store
    settings: Settings  # the live settings as they were when the request arrived
    account: str
    region: str
    now_ms: int
    operation: str
    request_id: str
    jobs: Jobs
    objects: Objects  # users' S3 objects
    faults: Faults
    models: Models  # loaded models of running versions
    rules: Rules
    capacity: Capacity  # inference units of running models

    def settled(self, *arns: str) -> Ctx:
        """In instant timing, wait (bounded) for background work on these resources to end, as
        the timing model promises the next read its final state; return a ctx whose `now_ms`
        is after that wait."""
        if self.settings.timing != "instant" or not arns:
            return self
        for arn in arns:
            self.jobs.wait(arn, self.settings.max_wait_seconds)
        return dataclasses.replace(self, now_ms=max(self.now_ms, lifecycle.now_ms()))
