"""Text frames handed to the session as aiohttp parses them.

aiohttp's parser puts every message on a queue and wakes the connection's handler task, which
takes it off again: a task switch and several coroutine frames per frame. Once a charge point
is attached, `DirectQueue` calls the mode's handler from inside the parser instead. The queue
stays for everything else (pings, pongs, close, errors), for frames that arrive while earlier
ones still wait on it (order is kept), and while MQTT back-pressure holds the sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
from aiohttp.helpers import DEFAULT_CHUNK_SIZE
from aiohttp.http import WSMsgType

TEXT = WSMsgType.TEXT


class DirectQueue(WebSocketDataQueue):
    """aiohttp's message queue, except that text frames go to `deliver` while it is set, the
    queue is empty and `held()` is false."""

    def __init__(self, protocol: Any, limit: int, *, loop: Any) -> None:
        super().__init__(protocol, limit, loop=loop)
        self.deliver: Callable[[str], None] | None = None
        self.held: Callable[[], bool] = _never

    def feed_data(self, data: Any, size: int) -> None:
        deliver = self.deliver
        if deliver is not None and data[0] is TEXT and not self._buffer and not self.held():
            deliver(data[1])
            return
        WebSocketDataQueue.feed_data(self, data, size)


def _never() -> bool:
    return False


class OcppWebSocket(web.WebSocketResponse):
    """A WebSocketResponse whose messages are parsed into a DirectQueue (`direct`; None when
    the client sent frames together with its handshake: they were parsed already, so this
    connection keeps aiohttp's own queue)."""

    direct: DirectQueue | None = None

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        handler = request.protocol
        early = bool(getattr(handler, "_message_tail", b""))
        super()._post_start(request, protocol, writer)
        if early:
            return
        # aiohttp's own parser has seen no byte yet: swap it for one feeding our queue
        queue = DirectQueue(request._protocol, DEFAULT_CHUNK_SIZE, loop=self._loop)
        parser = WebSocketReader(queue, self._max_msg_size, compress=bool(self._compress),
                                 decode_text=self._decode_text)
        callback = handler._data_received_cb
        handler._payload_parser = None
        handler.set_parser(parser, data_received_cb=callback)
        self._reader = queue
        self._parser = parser
        self.direct = queue
