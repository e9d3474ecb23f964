"""`fakerek serve`: open the store, start waitress, print the endpoint, stop cleanly on a signal."""

from __future__ import annotations

import logging
import signal
import sys

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

from fakerek import __version__
from fakerek.app import App
from fakerek.config import Settings
from fakerek.protocol.model import service
from fakerek.s3.embedded import EmbeddedS3
from fakerek.store.db import DataDirInUse, SchemaTooNew, Store

log = logging.getLogger("fakerek")
# S3 uploads (served on the same port) can be large; Rekognition bodies have their own,
# smaller limit (max_body_bytes) checked by the protocol layer.
TRANSPORT_BODY_LIMIT = 5 * 1024**3


class _Channel(HTTPChannel):
    """waitress 3.0 never completes a request without a body that asked for `100-continue`
    (boto3 does, for an empty PutObject): its interim answer marks the request incomplete."""

    def send_continue(self) -> None:
        bodiless = (
            self.request.completed
            and self.request.content_length == 0
            and (not self.request.chunked)
        )
        super().send_continue()
        if bodiless:
            self.request.completed = True


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
        app = App(settings, store, None if settings.s3_endpoint_url else EmbeddedS3(store))
        server = waitress.create_server(
            app,
            host=settings.host,
            port=settings.port,
            threads=settings.threads,
            ident="fakerek",
            max_request_body_size=max(TRANSPORT_BODY_LIMIT, settings.max_body_bytes),
        )
    except OSError as error:
        store.close()
        print(
            f"fakerek: cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr
        )
        return 1
    listeners = (
        [server]
        if isinstance(server, BaseWSGIServer)
        else [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]
    )  # several addresses
    for listener in listeners:
        listener.channel_class = _Channel
    signal.signal(signal.SIGTERM, _interrupt)
    print(
        f"fakerek {__version__} ready on http://{settings.host}:{server.effective_port} "
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
