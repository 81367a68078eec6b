"""transport/eager.py: a send coroutine run by hand up to its first suspension, then in a task."""

from __future__ import annotations

import asyncio

import pytest

from ocpp_mqtt.transport import eager


async def test_a_send_that_never_waits_completes_without_a_task() -> None:
    written: list[str] = []

    async def send() -> None:
        written.append("frame")

    assert eager.start(send()) is eager.DONE
    assert written == ["frame"]


async def test_a_send_that_waits_is_finished_in_order() -> None:
    gate = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def send() -> None:
        steps.append("header")
        await gate
        steps.append("body")
        await asyncio.sleep(0)  # a bare yield (None) is driven too
        steps.append("done")

    coro = send()
    waiting = eager.start(coro)
    assert waiting is gate and steps == ["header"]
    task = asyncio.get_running_loop().create_task(eager.finish(coro, waiting))
    await asyncio.sleep(0)
    assert steps == ["header"]  # still waiting for the transport
    gate.set_result(None)
    await task
    assert steps == ["header", "body", "done"]


async def test_cancelling_the_task_reaches_the_send() -> None:
    gate = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def send() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    coro = send()
    task = asyncio.get_running_loop().create_task(eager.finish(coro, eager.start(coro)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


async def test_errors_of_the_synchronous_part_propagate() -> None:
    async def send() -> None:
        raise ConnectionResetError("peer gone")

    with pytest.raises(ConnectionResetError):
        eager.start(send())
