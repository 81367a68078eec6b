"""Issue 4's "done when", end to end: a gateway in central mode (what `make run ARGS="--mode
central"` starts), its dashboard open in a real headless Chromium, and `ocpp-mqtt simulate -n
10` started as its own process: the page shows ten charge points, every version among them,
booted and charging, without a reload."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from .browser import open_page, screenshot

EXE = str(Path(sys.executable).parent / "ocpp-mqtt")
WAIT = 20_000  # ms: ten charge points connect at 20/s, boot, and start charging in 0-1 s


async def test_ten_simulated_charge_points_boot_and_charge(make_gateway: Any, browser: Any,
                                                           tmp_path: Path) -> None:
    gw = await make_gateway(mode="central", store=str(tmp_path / "gw.sqlite3"))
    async with open_page(browser) as watched:
        page = watched.page
        await page.goto(gw.admin_url + "/")
        await expect(page.locator("#live-state")).to_have_text("live")
        await expect(page.locator("#cp-rows")).to_contain_text("No charge point connected yet")
        proc = await asyncio.create_subprocess_exec(
            EXE, "simulate", "-n", "10", "--url", gw.url("").rstrip("/"), "--duration", "60",
            "--tx-pause", "0-1", "--meter-interval", "1", "--seed", "4",
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            rows = page.locator("#cp-rows tr[data-online=true]")
            await expect(rows).to_have_count(10, timeout=WAIT)
            charging = page.locator('#cp-rows .chip[data-status="Charging"]')
            await expect(charging).to_have_count(10, timeout=WAIT)
            # and power flows: the meter values the simulator sends reach the list
            await expect(page.locator("#cp-rows .chip .power")).to_have_count(10, timeout=WAIT)
            for version in ("1.6", "2.0.1", "2.1"):
                await expect(page.locator("#cp-rows tr td:nth-child(3)",
                                          has_text=version).first).to_be_visible()
            await expect(page.locator('#health [data-health="charge-points"]')).to_contain_text(
                "10 connected of 10 known")
            # booted: the identity card its BootNotification gave is shown
            await page.locator("#cp-rows tr").first.get_by_role("button").click()
            await expect(page.locator("#detail-info")).to_contain_text("Model")
            await expect(page.locator("#log li.frame").first).to_be_visible()
            await screenshot(page, "dashboard-simulate")
        finally:
            proc.send_signal(signal.SIGINT)  # the simulator stops its charge points cleanly
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        watched.clean()
