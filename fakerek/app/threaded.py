"""fakerek served from a thread of the calling process (the pytest plugin's in-process mode): a
debugger steps from a test into the request's handler, and there is no process to start.

Unlike `fakerek serve`, it leaves the process as it found it: no logging configuration (fakerek's
records go to the `fakerek` loggers of the host process, under its levels and handlers), no
signal handlers, no change to the open-file limit.
"""

from __future__ import annotations

import threading

from flask import Flask

from fakerek.app.factory import create_app
from fakerek.app.server import DRAIN_SECONDS, listen
from fakerek.config import Settings
from fakerek.web import services_of


class ThreadedServer:
    """The application over `settings` served by waitress from a daemon thread, from creation
    until `close()`, which waits up to `drain` seconds for the requests in flight. Raises what
    `create_app` raises (DataDirInUse, SchemaTooNew, OSError) or OSError when the address is
    taken."""

    def __init__(self, settings: Settings, drain: float = DRAIN_SECONDS):
        self.app: Flask = create_app(settings)
        try:
            self._server = listen(self.app, settings)
        except BaseException:
            services_of(self.app).close()
            raise
        self.port = self._server.port
        self._thread = threading.Thread(
            target=self._server.run, args=(drain,), name=f"fakerek-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop as `fakerek serve` does on SIGTERM: background jobs are told to stop, no
        connection is accepted, the requests in flight are answered (within the drain time), the
        serving threads end, then the jobs are waited for and the store closes."""
        services = services_of(self.app)
        services.jobs.stopping.set()
        self._server.stop()
        self._thread.join()  # run() returns once drained
        services.close()
