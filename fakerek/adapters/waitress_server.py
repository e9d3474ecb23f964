"""waitress, reached only through here: the HTTP server `fakerek serve` runs, with two fixes.

- waitress 3.0 never completes a request without a body that asked for `100-continue` (boto3
  does, for an empty PutObject): its interim answer marks the request incomplete again. fakerek's
  channel completes it.
- waitress writes every response header name in Title-Case. For S3's `x-amz-meta-*` headers the
  rest of the name is the user's metadata key, which boto3 hands back as it reads it: `Owner` for
  an `owner` that S3 (and moto) keep in lower case. fakerek's task writes those names as given.

It also drops a connection whose request headers have not all arrived within a set time (waitress
only closes connections idle for `channel_timeout`, so a client trickling a header in keeps its
connection forever).

These use names waitress does not publish (`channel_class` of its listening sockets,
`HTTPChannel.send_continue`, `.received`, `.request`, `.will_close` and `task_class`,
`WSGITask.build_response_header`, `BaseWSGIServer.maintenance` and `.active_channels`); each is
covered by a contract test.
"""

from __future__ import annotations

import time
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
    headers_begun: float | None = None  # when an unfinished request's first bytes arrived

    def received(self, data: bytes) -> bool:
        pending = self.request is not None
        result: bool = super().received(data)
        if self.request is None or self.request.headers_finished:
            self.headers_begun = None
        elif not pending or self.headers_begun is None:
            self.headers_begun = time.time()
        return result

    def send_continue(self) -> None:
        request = self.request
        bodiless = request.completed and request.content_length == 0 and not request.chunked
        super().send_continue()
        if bodiless:
            request.completed = True


class Server:
    """A listening waitress server; `run()` serves until `close()` or an interrupt.

    `connection_limit` connections at most (more wait to be accepted); a connection idle for
    `idle_timeout` seconds, or whose request headers take longer than `header_timeout`, is
    closed. poll() is used rather than select(), which cannot watch more than 1,024 sockets.
    """

    def __init__(
        self,
        app: Callable[..., Any],
        *,
        host: str,
        port: int,
        threads: int,
        connection_limit: int = 1000,
        idle_timeout: float = 60.0,
        header_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        self._server = waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="fakerek",
            connection_limit=connection_limit,
            channel_timeout=max(1, round(idle_timeout)),
            cleanup_interval=max(1, round(min(idle_timeout, header_timeout) / 2)),
            asyncore_use_poll=True,
            **options,
        )
        for listener in self._listeners():
            listener.channel_class = Channel
            _drop_slow_headers(listener, header_timeout)

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


def _drop_slow_headers(listener: Any, header_timeout: float) -> None:
    """Extend the listener's periodic maintenance (which closes idle channels) to close the
    channels whose request headers are overdue."""
    idle_maintenance = listener.maintenance

    def maintenance(now: float) -> None:
        idle_maintenance(now)
        cutoff = now - header_timeout
        for channel in list(listener.active_channels.values()):
            begun = getattr(channel, "headers_begun", None)
            if begun is not None and begun < cutoff:
                channel.will_close = True

    listener.maintenance = maintenance
