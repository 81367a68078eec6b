"""Fixtures for the sans-I/O unit tests (no sockets, no broker, no event loop)."""

from __future__ import annotations

import pytest

from ocpp_mqtt.ocppj.validation import Schemas


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    """One schema set for the whole run: validators compile lazily and are cached."""
    return Schemas()
