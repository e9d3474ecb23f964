"""waitress, reached only through here: the HTTP server `fakerek serve` runs, with two fixes.

- waitress 3.0 never completes a request without a body that asked for `100-continue` (boto3
  does, for an empty PutObject): its interim answer marks the request incomplete again. fakerek's
  channel completes it.
- waitress writes every response header name in Title-Case. For S3's `x-amz-meta-*` headers the
  rest of the name is the user's metadata key, which boto3 hands back as it reads it: `Owner` for
  an `owner` that S3 (and moto) keep in lower case. fakerek's task writes those names as given.

Both use names waitress does not publish (`channel_class` of its listening sockets,
`HTTPChannel.send_continue` and `task_class`, `WSGITask.build_response_header`); each is covered
by a contract test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import WSGITask

_META = "x-amz-meta-"


def version() -> str:
    from importlib.metadata import version as installed

    return installed("waitress")


class MetadataCaseTask(WSGITask):  # type: ignore[misc]
    """A task that writes `x-amz-meta-*` header names in the case the application gave."""

    def build_response_header(self) -> bytes:
        given = {
            name.lower(): name
            for name, _ in self.response_headers
            if name.lower().startswith(_META)
        }
        head: bytes = super().build_response_header()
        if not given:
            return head
        lines = head.split(b"\r\n")
        for number, line in enumerate(lines):
            name, colon, rest = line.partition(b":")
            original = given.get(name.decode("latin-1").lower()) if colon else None
            if original is not None:
                lines[number] = original.encode("latin-1") + b":" + rest
        return b"\r\n".join(lines)


class Channel(HTTPChannel):  # type: ignore[misc]
    """An HTTP channel that completes bodiless requests which asked for `100-continue`, and
    keeps the case of metadata header names."""

    task_class = MetadataCaseTask

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
            listener.channel_class = Channel

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
