"""waitress, reached only through here: the HTTP server `fakerek serve` runs, with two fixes.

- waitress 3.0 never completes a request without a body that asked for `100-continue` (boto3
  does, for an empty PutObject): its interim answer marks the request incomplete again. fakerek's
  channel completes it.
- waitress writes every response header name in Title-Case. For S3's `x-amz-meta-*` headers the
  rest of the name is the user's metadata key, which boto3 hands back as it reads it: `Owner` for
  an `owner` that S3 (and moto) keep in lower case. fakerek's task writes those names as given.

It also drops a connection whose request headers have not all arrived within a set time (waitress
only closes connections idle for `channel_timeout`, so a client trickling a header in keeps its
connection forever), and it stops gracefully: waitress's own `run()` ends its event loop at an
interrupt, so the answers of requests still running are never sent. `Server.run` serves until
`stop()` (safe in a signal handler), then stops accepting connections, keeps the loop turning
until the requests in flight are answered and their answers sent (up to a deadline), closes the
idle connections and ends.

These use names waitress does not publish (`channel_class` of its listening sockets,
`HTTPChannel.send_continue`, `.received`, `.request`, `.requests`, `.total_outbufs_len`,
`.will_close` and `task_class`, `WSGITask.build_response_header`, `BaseWSGIServer.maintenance`,
`.active_channels`, `.pull_trigger`, `.task_dispatcher` and the socket map (`_map`, `map`),
`TaskDispatcher.shutdown`, `wasyncore.loop`, `.close_all` and `dispatcher.close`); each is
covered by a contract test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import waitress
from waitress import wasyncore
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
    """A listening waitress server; `run()` serves until `stop()`, then drains.

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
        self._loop_timeout = max(0.05, min(1.0, header_timeout / 4))
        self._stopping = False  # a plain flag: set from a signal handler
        self._running = False

    def _listeners(self) -> list[Any]:
        server = self._server
        if isinstance(server, BaseWSGIServer):
            return [server]
        return [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]

    @property
    def port(self) -> int:
        return int(self._listeners()[0].effective_port)

    def _socket_map(self) -> dict[int, Any]:
        server = self._server
        found: dict[int, Any] = server._map if isinstance(server, BaseWSGIServer) else server.map
        return found

    def run(self, drain_timeout: float = 10.0) -> None:
        """Serve until `stop()`; then stop accepting connections, let the requests in flight
        end and their answers go out (for up to `drain_timeout` seconds), close the rest."""
        self._running = True
        sockets = self._socket_map()
        try:
            while not self._stopping:
                wasyncore.loop(timeout=self._loop_timeout, map=sockets, use_poll=True, count=1)
            self._drain(sockets, time.monotonic() + drain_timeout)
        finally:
            self._running = False
            wasyncore.close_all(sockets)

    def stop(self) -> None:
        """Ask `run()` to drain and return; safe to call from a signal handler (a flag, and a
        byte written to wake the event loop)."""
        self._stopping = True
        self._listeners()[0].pull_trigger()

    def close(self) -> None:
        """Stop a running server (as `stop()`), or close the sockets of one never run."""
        if self._running:
            self.stop()
        else:
            wasyncore.close_all(self._socket_map())

    def _drain(self, sockets: dict[int, Any], deadline: float) -> None:
        for listener in self._listeners():  # no new connections
            wasyncore.dispatcher.close(listener)
        while time.monotonic() < deadline:
            channels = [c for c in list(sockets.values()) if isinstance(c, HTTPChannel)]
            if not channels:
                break
            for channel in channels:
                if not (channel.requests or channel.request or channel.total_outbufs_len):
                    channel.will_close = True  # idle: closed at the loop's next turn
            wasyncore.loop(timeout=0.05, map=sockets, use_poll=True, count=1)
        self._server.task_dispatcher.shutdown(
            cancel_pending=True, timeout=max(0.0, deadline - time.monotonic())
        )


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
