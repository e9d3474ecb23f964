"""`fakerek serve`: build the application, serve it with waitress, stop cleanly on a signal.

SIGTERM or Ctrl-C: background jobs are told to stop (a training or an import ends failed at its
next image or batch, shorter work finishes), no connection is accepted any more, the requests in
flight are answered (for up to DRAIN_SECONDS), then the jobs are waited for and the store closes.
A second signal cuts the wait for requests short.

`listen` (the waitress server for an application and its settings) is shared with `threaded`,
which serves fakerek from a thread of a test process.
"""

from __future__ import annotations

import logging
import resource
import signal
import sys

from flask import Flask

from fakerek import __version__
from fakerek.adapters.waitress_server import Server
from fakerek.api.service_model import service
from fakerek.app import create_app
from fakerek.config import Settings
from fakerek.store.db import DataDirInUse, SchemaTooNew
from fakerek.web import services_of

log = logging.getLogger("fakerek")
# S3 uploads (served on the same port) can be large; Rekognition bodies have their own,
# smaller limit (max_body_bytes) checked by the Rekognition view.
TRANSPORT_BODY_LIMIT = 5 * 1024**3


DRAIN_SECONDS = 10.0


def _allow_open_files(wanted: int) -> None:
    """Raise this process's open-file limit towards `wanted` (connections, data files), within
    the hard limit the system sets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def listen(app: Flask, settings: Settings) -> Server:
    """A waitress server for `app`, listening on the settings' address (raises OSError)."""
    return Server(
        app,
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        connection_limit=settings.connection_limit,
        idle_timeout=settings.idle_timeout,
        header_timeout=settings.request_header_timeout,
        max_request_body_size=max(TRANSPORT_BODY_LIMIT, settings.max_body_bytes),
    )


def run(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("waitress").setLevel(logging.WARNING)
    service()  # load the wire model now, not on the first request
    _allow_open_files(settings.connection_limit + 256)
    try:
        app = create_app(settings)
    except (DataDirInUse, SchemaTooNew, OSError) as error:
        print(f"fakerek: {error}", file=sys.stderr)
        return 1
    parts = services_of(app)
    try:
        server = listen(app, settings)
    except OSError as error:
        parts.close()
        print(
            f"fakerek: cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr
        )
        return 1
    signals: list[int] = []

    def stop(signum: int, frame: object) -> None:
        signals.append(signum)
        if len(signals) > 1:
            raise KeyboardInterrupt  # a second signal: stop waiting for requests
        log.info("stopping (%s)", signal.Signals(signum).name)
        parts.jobs.stopping.set()  # so that requests waiting for a job end soon too
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"fakerek {__version__} ready on http://{settings.host}:{server.port} "
        f"(data dir {parts.store.data_dir})",
        flush=True,
    )
    try:
        server.run(DRAIN_SECONDS)
    except KeyboardInterrupt:
        log.info("stopping without waiting for the requests in flight")
    finally:
        for number in (signal.SIGTERM, signal.SIGINT):  # the jobs are being waited for now
            signal.signal(number, signal.SIG_IGN)
        parts.close()
        log.info("fakerek stopped")
    return 0
