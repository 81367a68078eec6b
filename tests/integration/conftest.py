"""Fixtures of the integration tests beyond the session-wide ones in tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Mosquitto

from .tcpproxy import TcpProxy


@pytest.fixture
async def proxy(mosquitto: Mosquitto) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the session's Mosquitto: `cut()` it to take the broker away
    from a gateway while the broker and the test's backend stay up."""
    p = await TcpProxy(mosquitto.port).start()
    yield p
    await p.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium (tests/integration/browser.py) for the dashboard tests."""
    from .browser import chromium

    async with chromium() as launched:
        yield launched
