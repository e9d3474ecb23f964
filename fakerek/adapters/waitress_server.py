"""waitress, reached only through here: the HTTP server `fakerek serve` runs, with one fix.

waitress 3.0 never completes a request without a body that asked for `100-continue` (boto3 does,
for an empty PutObject): its interim answer marks the request incomplete again. fakerek's channel
class completes it. Installing the class uses waitress's `channel_class` attribute of its listening
sockets, and the fix reads the channel's request; both are covered by contract tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer


def version() -> str:
    from importlib.metadata import version as installed

    return installed("waitress")


class ContinueChannel(HTTPChannel):  # type: ignore[misc]
    """An HTTP channel that completes bodiless requests which asked for `100-continue`."""

    def send_continue(self) -> None:
        request = self.request
        bodiless = request.completed and request.content_length == 0 and not request.chunked
        super().send_continue()
        if bodiless:
            request.completed = True


class Server:
    """A listening waitress server; `run()` serves until `close()` or an interrupt."""

    def __init__(
        self, app: Callable[..., Any], *, host: str, port: int, threads: int, **options: Any
    ) -> None:
        self._server = waitress.create_server(
            app, host=host, port=port, threads=threads, ident="fakerek", **options
        )
        for listener in self._listeners():
            listener.channel_class = ContinueChannel

    def _listeners(self) -> list[Any]:
        server = self._server
        if isinstance(server, BaseWSGIServer):
            return [server]
        return [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]

    @property
    def port(self) -> int:
        return int(self._listeners()[0].effective_port)

    def run(self) -> None:
        self._server.run()

    def close(self) -> None:
        self._server.close()
