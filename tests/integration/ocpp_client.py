"""A python `ocpp` ChargePoint connected to a gateway, reading in the background."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import websockets

WAIT = 5.0


@contextlib.asynccontextmanager
async def running(cp_class: type, url: str, identity: str,
                  protocol: str = "ocpp1.6") -> AsyncIterator[Any]:
    ws = await websockets.connect(url, subprotocols=[protocol],  # type: ignore[list-item]
                                  open_timeout=WAIT)
    cp = cp_class(identity, ws, response_timeout=WAIT)
    reader = asyncio.get_running_loop().create_task(cp.start())
    try:
        yield cp
    finally:
        await ws.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
