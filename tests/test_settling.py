"""Instant timing's promise, in process: a call sees the background work it covers ended."""

from __future__ import annotations

import threading

from fakerek.api.sigv4 import Scope
from fakerek.operations.context import for_scope
from fakerek.operations.settling import Children, settle
from fakerek.web import services_of

PROJECT = "arn:aws:rekognition:us-east-1:123456789012:project/p/1"
VERSION = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v1/2"


def test_work_that_ended_before_the_call_settled_is_seen_ended(app):
    """The call read the clock, then a job ended and wrote its end with a later reading (as a
    model's start fails): the call runs at a time no earlier than that end."""
    services = services_of(app)
    services.clock.freeze(True)
    ctx = for_scope(services, Scope("123456789012", "us-east-1"), "DescribeProjectVersions", "r")
    services.jobs.submit([VERSION], ctx.now_ms, lambda: services.clock.advance(2))
    services.jobs.wait_all(10)  # ended before the call looks: nothing left to wait for
    settled = settle(ctx, Children("version"), {"ProjectArn": PROJECT})
    assert settled.now_ms == ctx.now_ms + 2000 == services.clock.now_ms()


def test_a_call_settled_while_the_work_runs_waits_for_it(app):
    services = services_of(app)
    services.clock.freeze(True)
    ctx = for_scope(services, Scope("123456789012", "us-east-1"), "DescribeProjectVersions", "r")
    release, ended = threading.Event(), []

    def work() -> None:
        release.wait(10)
        services.clock.advance(3)
        ended.append(True)

    services.jobs.submit([VERSION], ctx.now_ms, work)
    threading.Timer(0.2, release.set).start()  # the job still runs when the call settles
    settled = settle(ctx, Children("version"), {"ProjectArn": PROJECT})
    assert ended == [True]
    assert settled.now_ms == ctx.now_ms + 3000
