"""How a background job records its end, so that every job finishes in the process that ran it.

A job ends with one write: its outcome (completed, or failed with its reason). When that write
fails (the disk is full, the database cannot be written), the resource is marked failed with the
service-issue message instead, and that write is retried, with growing pauses, until it succeeds
or the server stops. Start-up recovery (`jobs.datasets.recover`, `jobs.training.recover`) stays
the backstop for a process that ended first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fakerek.store.db import Store, StoreClosed, Tx

log = logging.getLogger("fakerek.jobs")
Write = Callable[[Tx], None]
FIRST_PAUSE_S = 0.05
LONGEST_PAUSE_S = 2.0


def record(store: Store, what: str, outcome: Write, failed: Write) -> bool:
    """Write `outcome` in one transaction; if that fails, write `failed` (which must be safe to
    repeat) until it is written or the store closes. Whether the outcome itself was written."""
    try:
        with store.write() as tx:
            outcome(tx)
        return True
    except StoreClosed:
        _stopped(what)
        return False
    except Exception as error:
        log.error("cannot record how %s ended (%s): marking it failed", what, error)
    pause = FIRST_PAUSE_S
    while True:
        try:
            with store.write() as tx:
                failed(tx)
            log.warning("%s is marked failed", what)
            return False
        except StoreClosed:
            _stopped(what)
            return False
        except Exception as error:
            if pause == FIRST_PAUSE_S:
                log.error("cannot mark %s failed yet (%s): retrying", what, error)
        if store.wait_closed(pause):
            _stopped(what)
            return False
        pause = min(pause * 2, LONGEST_PAUSE_S)


def _stopped(what: str) -> None:
    log.warning("the server stopped before %s was recorded: the next start marks it failed", what)
