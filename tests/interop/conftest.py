"""The MQTT side of the interop tests: a small backend answering charge point CALLs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

NOW = "2025-01-02T03:04:05Z"
WAIT = 5.0


def standard_answer(msg: dict[str, Any]) -> dict[str, Any] | None:
    """The backend's CALLRESULT for the CP CALLs these tests make."""
    action = msg["Action"]
    if action == "BootNotification":
        payload: dict[str, Any] = {"currentTime": NOW, "interval": 300, "status": "Accepted"}
    elif action == "Heartbeat":
        payload = {"currentTime": NOW}
    else:
        return None
    return {"MessageTypeId": 3, "UniqueId": msg["UniqueId"], "Payload": payload}


Answer = Callable[[dict[str, Any]], dict[str, Any] | None]


@pytest.fixture
async def csms(backend: Any) -> AsyncIterator[Callable[..., list[dict[str, Any]]]]:
    """Start a task that answers `{prefix}cp/{cid}` CALLs over MQTT; returns the CALLs it saw."""
    tasks: list[asyncio.Task[None]] = []
    stop = asyncio.Event()

    def start(gw: Any, cid_level: str, answer: Answer = standard_answer) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        upstream = gw.prefix + f"cp/{cid_level}"
        downstream = gw.prefix + f"cs/{cid_level}"

        async def loop() -> None:
            while not stop.is_set():
                try:
                    msg = await backend.wait_for(upstream, timeout=1.0)
                except AssertionError:
                    continue  # nothing yet; the test bounds the overall wait
                seen.append(msg)
                reply = answer(msg)
                if reply is not None:
                    backend.publish(downstream, reply)

        tasks.append(asyncio.get_running_loop().create_task(loop()))
        return seen

    yield start
    # The flag ends the loop even if Python 3.11's asyncio.wait_for swallows the cancellation
    # (it does when the awaited event fires at the same moment); the wait is bounded anyway.
    stop.set()
    for task in tasks:
        task.cancel()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=WAIT)
        assert not pending, "the MQTT answering task did not stop"
