"""A real headless Chromium for the dashboard tests: Debian's `chromium` (installed by `make
test`), driven by Playwright for Python with that system browser (`executable_path`: no
browser download). Every page records its JavaScript errors, failed requests and the URLs it
asked for, so a test can assert the page itself went right."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, async_playwright

from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"
STEP = 5000  # ms any one expectation may take (events arrive in milliseconds)


def chromium_path() -> str:
    found = os.environ.get("OCPP_MQTT_TEST_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run `make test`, which installs Debian's "
                    "chromium (or set OCPP_MQTT_TEST_CHROMIUM to a Chromium binary)")
    return found


@dataclass
class Watched:
    """A page and what it did."""

    page: Page
    errors: list[str] = field(default_factory=list)  # uncaught exceptions, console errors
    requests: list[Request] = field(default_factory=list)

    def clean(self) -> None:
        assert not self.errors, f"the page reported errors: {self.errors}"


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(executable_path=chromium_path())
        except Exception as exc:  # the binary is there but cannot run here
            pytest.skip(f"Chromium cannot start on this machine: {exc}")
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def open_page(browser: Browser) -> AsyncIterator[Watched]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(STEP)
    watched = Watched(page)

    def console(message: Any) -> None:
        # Chromium logs every HTTP error status as "Failed to load resource"; the tests
        # provoke those (401 before the token, 422, 504) and check what the page shows
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            watched.errors.append(message.text)

    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))
    page.on("console", console)
    page.on("request", lambda request: watched.requests.append(request))
    try:
        yield watched
    finally:
        await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """Keep a full-page screenshot in test-artifacts/ (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
