"""Writing a WebSocket frame without a task in the common case.

aiohttp's `send_str` is a coroutine, but an uncompressed (or small compressed) frame is written
synchronously and the coroutine finishes without ever suspending. Running it by hand up to its
first suspension costs no task and no loop iteration; only a send that must wait (transport
paused, a large frame compressed in the executor) continues in a task, driven by `finish`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Final

DONE: Final = object()  # what `start` returns when the coroutine completed synchronously


def start(coro: Coroutine[Any, Any, None]) -> Any:
    """Run `coro` up to its first suspension: DONE if it finished, else what it waits for
    (give both to `finish`, in a task). Its exceptions propagate."""
    try:
        waiting = coro.send(None)
    except StopIteration:
        return DONE
    if waiting is not None:
        # What asyncio's Task does with a yielded future before it can be awaited again.
        waiting._asyncio_future_blocking = False
    return waiting


async def finish(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive a coroutine that `start` left suspended on `waiting` to its end."""
    while True:
        try:
            await (asyncio.sleep(0) if waiting is None else waiting)
        except BaseException as exc:  # e.g. cancelled: let the coroutine handle it
            try:
                waiting = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting = coro.send(None)
            except StopIteration:
                return
        if waiting is not None:
            waiting._asyncio_future_blocking = False
