"""Everything the server holds for its lifetime, built once per application by `create_app`.

`Services` is the composition root's one container: the store, the embedded S3 (or None when
users' objects live on an external endpoint), background jobs, loaded models, the one clock (and
the inference-unit capacity that reads it), faults, result rules and the live settings. A reset
and a shutdown loop over its parts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fakerek.config import RuntimeConfig, Settings
from fakerek.domain.capacity import Capacity
from fakerek.domain.clock import Clock
from fakerek.jobs import Jobs
from fakerek.ml.serving import Models
from fakerek.operations.faults import Faults
from fakerek.operations.rules import Rules
from fakerek.s3.embedded import EmbeddedS3
from fakerek.s3.objects import EmbeddedObjects, ExternalObjects, Objects
from fakerek.store.db import DatabaseError, Store, StoreClosed

log = logging.getLogger("fakerek")
JOBS_STOP_SECONDS = 10.0


@dataclass
class Services:
    config: RuntimeConfig
    store: Store
    s3: EmbeddedS3 | None  # None: users' objects live on `s3_endpoint_url`
    jobs: Jobs = field(default_factory=Jobs)
    models: Models = field(default_factory=Models)
    clock: Clock = field(default_factory=Clock)
    faults: Faults = field(default_factory=Faults)
    rules: Rules = field(default_factory=Rules)
    _objects: dict[tuple[str, frozenset[str], str, str], Objects] = field(default_factory=dict)
    _release_graph_cache: Callable[[], None] = lambda: None
    capacity: Capacity = field(init=False)

    def __post_init__(self) -> None:
        self.capacity = Capacity(self.clock)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        """Open the data directory (raises DataDirInUse, SchemaTooNew, OSError) and S3."""
        from fakerek.ml import graph_cache

        store = Store(settings.data_dir)
        config = RuntimeConfig(settings)
        try:
            s3 = (
                None
                if settings.s3_endpoint_url
                else EmbeddedS3(store, settings.region, lambda: config.snapshot().account_id)
            )
        except BaseException:
            store.close()
            raise
        services = cls(config, store, s3, models=Models(settings.cache_dir))
        services.clock.resume_from(store.last_ms())
        services._release_graph_cache = graph_cache.use(settings.cache_dir)
        return services

    def recover(self) -> None:
        """Start-up: work that a crash or a stop interrupted ends as a service error."""
        from fakerek.jobs import datasets, training

        datasets.recover(self.store, self.clock)
        training.recover(self.store, self.clock)

    def objects(self, settings: Settings, account: str) -> Objects:
        """Users' S3 objects as `account` reaches them under these settings (kept while they
        hold): the embedded S3 refuses other accounts' buckets; an external endpoint decides
        for itself."""
        key = (settings.s3_endpoint_url, settings.denied_buckets, settings.region, account)
        found = self._objects.get(key)
        if found is None:
            if self.s3 is None:
                found = ExternalObjects(
                    settings.s3_endpoint_url, settings.region, settings.denied_buckets
                )
            else:
                found = EmbeddedObjects(self.s3, account, settings.denied_buckets)
            self._objects[key] = found
        return found

    def move_clock(self, freeze: bool | None, seconds: float) -> float:
        """Stop (or restart) the clock and move it `seconds` forward; return its time, in epoch
        seconds. Background work whose transition is over by then is waited for (at most
        `max_wait_seconds`): a clock advanced past a training's delay finds it trained, however
        long its compute took."""
        if freeze is not None:
            self.clock.freeze(freeze)
        self.clock.advance(seconds)
        self.jobs.wait_due(self.clock.now_ms(), self.config.snapshot().max_wait_seconds)
        return self.clock.now()

    def reset(self) -> None:
        """Back to a fresh server: no resources, start-up settings, no faults, no rules."""
        self.jobs.wait_all(self.config.snapshot().max_wait_seconds)
        for part in (
            self.store,
            self.s3,
            self.faults,
            self.rules,
            self.models,
            self.capacity,
            self.clock,
            self.config,
        ):
            if part is not None:
                part.reset()
        self.store.rewind(self.clock.now_ms())

    def close(self, jobs_timeout: float = JOBS_STOP_SECONDS) -> None:
        """Stop: background jobs end (long ones cancelled, recorded as failed; waited for up to
        `jobs_timeout` seconds, then a job still running finds the store closed and the next
        start marks its resource failed), the embedded S3 finishes starting, the store closes."""
        self.jobs.close(jobs_timeout)
        if self.s3 is not None:
            self.s3.close()
        try:
            self.store.keep_time(self.clock.now_ms())  # the next start's clock runs on from it
        except (DatabaseError, StoreClosed) as error:
            log.warning(
                "the clock's time is not kept (%s): the next start may read it earlier", error
            )
        self.store.close()
        self.models.close()  # the detection store: what it queued is written
        self._release_graph_cache()
