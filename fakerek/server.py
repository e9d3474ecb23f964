"""`fakerek serve`: open the store, start waitress, print the endpoint, stop cleanly on a signal."""

from __future__ import annotations

import logging
import signal
import sys

from fakerek import __version__
from fakerek.adapters.waitress_server import Server
from fakerek.app import App
from fakerek.config import Settings
from fakerek.protocol.model import service
from fakerek.s3.embedded import EmbeddedS3
from fakerek.store.db import DataDirInUse, SchemaTooNew, Store

log = logging.getLogger("fakerek")
# S3 uploads (served on the same port) can be large; Rekognition bodies have their own,
# smaller limit (max_body_bytes) checked by the protocol layer.
TRANSPORT_BODY_LIMIT = 5 * 1024**3


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("waitress").setLevel(logging.WARNING)
    service()  # load the wire model now, not on the first request
    try:
        store = Store(settings.data_dir)
    except (DataDirInUse, SchemaTooNew, OSError) as error:
        print(f"fakerek: {error}", file=sys.stderr)
        return 1
    try:
        s3 = None if settings.s3_endpoint_url else EmbeddedS3(store, settings.region)
        app = App(settings, store, s3)
        server = Server(
            app,
            host=settings.host,
            port=settings.port,
            threads=settings.threads,
            max_request_body_size=max(TRANSPORT_BODY_LIMIT, settings.max_body_bytes),
        )
    except OSError as error:
        store.close()
        print(
            f"fakerek: cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr
        )
        return 1
    signal.signal(signal.SIGTERM, _interrupt)
    print(
        f"fakerek {__version__} ready on http://{settings.host}:{server.port} "
        f"(data dir {store.data_dir})",
        flush=True,
    )
    try:
        server.run()
    except KeyboardInterrupt:
        server.close()
    finally:
        app.jobs.shutdown()
        store.close()
        log.info("fakerek stopped")
    return 0
