"""The dashboard end to end in a real headless Chromium (Debian's chromium, Playwright), against
a real gateway, Mosquitto and real charge points (the python `ocpp` package's ChargePoints in
central mode, raw WebSocket frames in relay mode): the list and its connector status update
live, the message log shows frames as they happen, the command form reaches the charge point
and shows its answer or the error, kick disconnects, health shows the MQTT link, and the token
prompt guards the API without the token ever appearing in a URL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from ocpp import v16, v201
from ocpp.routing import on
from playwright.async_api import Page, expect

from tests.conftest import Backend

from .browser import open_page, screenshot
from .ocpp_client import running
from .wsutil import connect, recv_json, until

TOKEN = "dashboard-token-0123456789"


class Cp16(v16.ChargePoint):  # type: ignore[misc]
    """Answers Reset, and remembers it was asked."""

    resets: list[str]

    @on("Reset")
    def on_reset(self, type: str) -> Any:
        self.resets = [*getattr(self, "resets", []), type]
        return v16.call_result.Reset(status="Accepted")


class Cp201(v201.ChargePoint):  # type: ignore[misc]
    pass


async def boot16(cp: Any) -> None:
    await cp.call(v16.call.BootNotification(charge_point_vendor="Acme",
                                            charge_point_model="Wallbox-1"))


async def status16(cp: Any, connector: int, status: str) -> None:
    await cp.call(v16.call.StatusNotification(connector_id=connector, error_code="NoError",
                                              status=status))


def row(page: Page, identity: str) -> Any:
    return page.locator(f'#cp-rows tr[data-identity="{identity}"]')


def chip(page: Page, identity: str, connector: int) -> Any:
    return row(page, identity).locator(f'[data-connector="{connector}"]')


async def test_central_mode_live_list_log_command_kick(make_gateway: Any, browser: Any,
                                                       mosquitto: Any, tmp_path: Path) -> None:
    gw = await make_gateway(mode="central", trigger_after_connect=0,
                            store=str(tmp_path / "gw.sqlite3"))
    async with open_page(browser) as watched:
        page = watched.page
        await page.goto(gw.admin_url + "/")
        await expect(page).to_have_title("ocpp-mqtt dashboard")
        await expect(page.locator("#cp-rows")).to_contain_text("No charge point connected yet")
        health = page.locator("#health")
        await expect(health.locator('[data-health="mqtt"]')).to_have_text(
            f"connected to mqtt://127.0.0.1:{mosquitto.port} (MQTT 5)")
        await expect(health.locator('[data-health="gateway"]')).to_have_text(
            "test-gw (central mode)")
        await expect(health.locator('[data-health="outbox"]')).to_contain_text("0 messages")
        await expect(page.locator("#live-state")).to_have_text("live")

        async with running(Cp16, gw.url("DASH-16"), "DASH-16") as cp16, \
                running(Cp201, gw.url("DASH-201"), "DASH-201", "ocpp2.0.1") as cp201:
            await boot16(cp16)
            await status16(cp16, 1, "Available")
            await status16(cp16, 2, "Available")
            await cp201.call(v201.call.BootNotification(
                charging_station={"model": "M2", "vendor_name": "Acme"}, reason="PowerUp"))
            await cp201.call(v201.call.StatusNotification(
                timestamp="2026-01-01T00:00:00Z", connector_status="Available", evse_id=1,
                connector_id=1))
            # both appear without a reload, with their connectors and versions
            await expect(chip(page, "DASH-16", 1)).to_have_text("1: Available")
            await expect(chip(page, "DASH-16", 2)).to_have_text("2: Available")
            await expect(chip(page, "DASH-201", 1)).to_have_text("1: Available")
            await expect(row(page, "DASH-201").locator("td").nth(1)).to_have_text("2.0.1")
            await expect(row(page, "DASH-16").locator(".badge")).to_have_text("online")
            await expect(health.locator('[data-health="charge-points"]')).to_contain_text(
                "2 connected")

            # the filter box asks the API for matching identities
            await page.fill("#cp-filter", "201")
            await expect(row(page, "DASH-16")).to_have_count(0)
            await expect(row(page, "DASH-201")).to_have_count(1)
            await page.fill("#cp-filter", "")
            await expect(row(page, "DASH-16")).to_have_count(1)

            # details: the log holds the frames so far, then shows new ones as they happen
            await row(page, "DASH-16").get_by_role("button", name="DASH-16").click()
            detail = page.locator("#detail")
            await expect(detail).to_be_visible()
            await expect(page.locator("#detail-title")).to_have_text("DASH-16")
            await expect(row(page, "DASH-16")).to_have_attribute("aria-current", "true")
            assert page.url.endswith("#cp=DASH-16")  # a reload shows the same one
            log = page.locator("#log")
            await expect(log.locator('li[data-action="BootNotification"]')).to_have_count(2)
            await expect(page.locator("#log-state")).to_have_text("live")
            await status16(cp16, 1, "Charging")  # a change as it happens
            await expect(chip(page, "DASH-16", 1)).to_have_text("1: Charging")
            newest = log.locator("li").first
            await expect(newest).to_have_attribute("data-type", "CALLRESULT")
            await expect(newest).to_have_attribute("data-action", "StatusNotification")
            charging = log.locator('li[data-type="CALL"][data-action="StatusNotification"]')
            await expect(charging.first).to_contain_text('"status": "Charging"')
            await expect(charging.first.locator(".dir")).to_have_text("CP → gateway")
            await expect(detail.locator("#detail-info")).to_contain_text("Acme Wallbox-1")
            await cp16.call(v16.call.MeterValues(connector_id=1, meter_value=[{
                "timestamp": "2026-01-01T00:00:05Z", "sampled_value": [
                    {"value": "7360", "measurand": "Power.Active.Import", "unit": "W"}]}]))
            await expect(chip(page, "DASH-16", 1)).to_have_text("1: Charging · 7.4 kW")

            # a command from the form reaches the charge point; its answer is shown
            await page.fill("#command-action", "Reset")
            await page.fill("#command-payload", '{"type": "Soft"}')
            await page.click("#command-send")
            result = page.locator("#command-result")
            await expect(result.locator(".result")).to_contain_text("200 answered in")
            await expect(result.locator(".result-body")).to_contain_text('"status": "Accepted"')
            assert cp16.resets == ["Soft"]
            await expect(log.locator('li[data-type="CALL"][data-action="Reset"]')).to_have_count(1)
            await screenshot(page, "dashboard")
            await expect(log.locator('li[data-direction="out"][data-action="Reset"]')
                         .locator(".dir")).to_have_text("gateway → CP")
            # refused by the gateway: the status and the validator's reason
            await page.fill("#command-payload", '{"type": "Sideways"}')
            await page.click("#command-send")
            await expect(result.locator(".result")).to_contain_text("422 refused: ")
            await expect(result.locator(".result")).to_contain_text("Sideways")
            # not JSON: said before anything is sent
            await page.fill("#command-payload", "{type: Soft}")
            await page.click("#command-send")
            await expect(result.locator(".result")).to_contain_text(
                "Not sent: the payload is not valid JSON")
            assert cp16.resets == ["Soft"]

            # kick: the socket closes and central mode lists it offline
            await page.click("#kick")
            await expect(result.locator(".result")).to_contain_text(
                "Disconnected: kicked by the admin API: from the dashboard")
            await expect(row(page, "DASH-16").locator(".badge")).to_have_text("offline")
            await expect(page.locator("#detail-status")).to_have_text("offline")
            await expect(page.locator("#command-send")).to_be_disabled()
            await until(lambda: cp16._connection.close_code is not None, 5,
                        "the kicked charge point's socket closed")
            assert cp16._connection.close_code == 1000
            await expect(health.locator('[data-health="charge-points"]')).to_contain_text(
                "1 connected of 2 known")
        watched.clean()


# ---- relay mode: raw charge points, a backend answering over MQTT --------------------------


@contextlib.asynccontextmanager
async def answering(backend: Backend, prefix: str) -> AsyncIterator[None]:
    """A backend that answers every charge point CALL with an empty (or Boot) CALLRESULT."""
    await backend.subscribe(prefix + "cp/#")

    async def loop() -> None:
        while True:
            await backend._wait_new(1.0)
            while backend.messages:
                topic, payload, _ = backend.messages.pop(0)
                call = orjson.loads(payload)
                if call.get("MessageTypeId") != 2:
                    continue
                cid = topic.rsplit("/", 1)[-1]
                answer: dict[str, Any] = {}
                if call["Action"] == "BootNotification":
                    answer = {"currentTime": "2026-01-01T00:00:00Z", "interval": 300,
                              "status": "Accepted"}
                backend.publish(prefix + "cs/" + cid, {
                    "MessageTypeId": 3, "UniqueId": call["UniqueId"], "Payload": answer})

    task = asyncio.get_running_loop().create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def call(ws: Any, uid: str, action: str, payload: dict[str, Any]) -> list[Any]:
    """Send a CALL and read its answer, answering the gateway's CALLs meanwhile."""
    await ws.send(orjson.dumps([2, uid, action, payload]).decode())
    while True:
        frame = await recv_json(ws)
        if frame[0] == 2:
            await ws.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
            continue
        assert frame[1] == uid, frame
        return frame


BOOT201 = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}


async def test_relay_mode_connectors_from_frames_command_and_kick(
        make_gateway: Any, browser: Any, backend: Backend) -> None:
    gw = await make_gateway(call_timeout=2)
    async with answering(backend, gw.prefix), open_page(browser) as watched, \
            connect(gw.url("RELAY-1"), ["ocpp2.0.1"]) as ws:
        page = watched.page
        await page.goto(gw.admin_url + "/")
        await expect(page.locator("#health [data-health=gateway]")).to_have_text(
            "test-gw (relay mode)")
        await expect(page.locator("#health [data-health=outbox]")).to_have_count(0)
        await expect(row(page, "RELAY-1").locator(".badge")).to_have_text("online")
        await expect(row(page, "RELAY-1")).to_contain_text("none reported")
        await expect(page.locator("#live-state")).to_have_text("live")
        await row(page, "RELAY-1").get_by_role("button").focus()  # the keyboard works too
        await page.keyboard.press("Enter")
        await expect(page.locator("#detail-title")).to_have_text("RELAY-1")
        await expect(page.locator("#log-state")).to_have_text("live")

        # relay mode derives connector status from the frames the backend answers
        assert (await call(ws, "b1", "BootNotification", BOOT201))[0] == 3
        await call(ws, "s1", "StatusNotification", {
            "timestamp": "2026-01-01T00:00:00Z", "connectorStatus": "Occupied", "evseId": 1,
            "connectorId": 1})
        await expect(chip(page, "RELAY-1", 1)).to_have_text("1: Preparing")
        await call(ws, "t1", "TransactionEvent", {
            "eventType": "Started", "timestamp": "2026-01-01T00:00:01Z",
            "triggerReason": "CablePluggedIn", "seqNo": 0,
            "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1}})
        await expect(chip(page, "RELAY-1", 1)).to_have_text("1: Charging")
        log = page.locator("#log")
        await expect(log.locator('li[data-type="CALL"][data-action="TransactionEvent"]')
                     ).to_contain_text('"chargingState": "Charging"')
        await expect(log.locator('li[data-type="CALLRESULT"][data-action="BootNotification"]')
                     ).to_contain_text('"status": "Accepted"')

        # the form's CALL reaches the charge point, which answers with a CALLERROR
        await page.fill("#command-action", "TriggerMessage")
        await page.fill("#command-payload", '{"requestedMessage": "Heartbeat"}')
        await page.click("#command-send")
        sent = await recv_json(ws)
        assert sent[0] == 2 and sent[2] == "TriggerMessage"
        assert sent[3] == {"requestedMessage": "Heartbeat"}
        await ws.send(orjson.dumps([4, sent[1], "NotSupported", "not here", {}]).decode())
        result = page.locator("#command-result")
        await expect(result.locator(".result")).to_contain_text(
            "200 answered with a CALLERROR")
        await expect(result.locator(".result-body")).to_contain_text('"code": "NotSupported"')
        await expect(log.locator('li[data-type="CALLERROR"]')).to_contain_text(
            '"description": "not here"')
        await expect(log.locator('li[data-type="CALLERROR"] .action')).to_have_text(
            "TriggerMessage: NotSupported")

        # no answer: the call times out with its reason
        await page.fill("#command-action", "ClearCache")
        await page.fill("#command-payload", "{}")
        await page.click("#command-send")
        assert (await recv_json(ws))[2] == "ClearCache"
        await expect(result.locator(".result")).to_contain_text(
            "504 no answer in time: no answer from the charge point within 2 s")
        await expect(result.locator(".result-body")).to_have_count(0)

        await screenshot(page, "dashboard-relay")
        await page.click("#kick")
        await expect(row(page, "RELAY-1").locator(".badge")).to_have_text("offline")
        await expect(row(page, "RELAY-1").locator(".badge")).to_have_attribute(
            "title", "disconnected: kicked by the admin API: from the dashboard")
        assert gw.gateway.relay.connections.get("RELAY-1") is None
        assert gw.gateway.relay.tracker.states == {}  # forgotten once gone
        watched.clean()


async def test_token_prompt(make_gateway: Any, browser: Any, backend: Backend) -> None:
    gw = await make_gateway(admin_token=TOKEN)
    async with answering(backend, gw.prefix), open_page(browser) as watched, \
            connect(gw.url("TOKEN-CP"), ["ocpp1.6"]):
        page = watched.page
        await page.goto(gw.admin_url + "/")  # the page itself needs no token
        dialog = page.locator("#token-dialog")
        await expect(dialog).to_be_visible()
        await expect(page.locator("#token-reason")).to_contain_text("needs its bearer token")
        await expect(row(page, "TOKEN-CP")).to_have_count(0)
        await page.fill("#token-input", "not-the-token")
        await page.click("#token-submit")
        await expect(page.locator("#token-reason")).to_contain_text(
            "The gateway refused the token: wrong bearer token")
        await expect(dialog).to_be_visible()
        await page.fill("#token-input", TOKEN)
        await page.click("#token-submit")
        await expect(dialog).to_be_hidden()
        await expect(row(page, "TOKEN-CP").locator(".badge")).to_have_text("online")
        await expect(page.locator("#live-state")).to_have_text("live")
        await expect(page.locator("#token-state")).to_be_visible()
        # a reload keeps the token for this tab: no prompt
        await page.reload()
        await expect(row(page, "TOKEN-CP").locator(".badge")).to_have_text("online")
        await expect(dialog).to_be_hidden()
        api = [r for r in watched.requests if "/api/v1/" in r.url]
        assert any("/api/v1/stream" in r.url for r in api)
        assert all(TOKEN not in r.url for r in watched.requests)
        sent = [await r.all_headers() for r in api]
        assert any(h.get("authorization") == f"Bearer {TOKEN}" for h in sent)
        # forgetting it asks again
        await page.click("#token-forget")
        await expect(dialog).to_be_visible()
        watched.clean()
