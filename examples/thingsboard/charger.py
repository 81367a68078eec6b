"""A simulated OCPP 1.6 charger for the ThingsBoard walkthrough (README.md next to this file).

It boots, reports its connector, charges when told to (RemoteStart / RemoteStop), sends meter
values every few seconds while charging, follows current limits, and answers the other commands
the RPC table offers. Needs the python `ocpp` and `websockets` packages (in the project's venv).

    python examples/thingsboard/charger.py ws://127.0.0.1:9000/ocpp/CP1
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp import v16
from ocpp.routing import after, on

VOLTS, PHASES = 230.0, 3


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Charger(v16.ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, period: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.period = period
        self.energy_wh = 12_000.0
        self.amps = 16.0
        self.transaction: int | None = None
        self.metering: asyncio.Task[None] | None = None

    async def status(self, status: str) -> None:
        await self.call(v16.call.StatusNotification(connector_id=1, error_code="NoError",
                                                    status=status, timestamp=now()))

    async def boot(self) -> None:
        await self.call(v16.call.BootNotification(
            charge_point_vendor="SimVendor", charge_point_model="SimCharger-22",
            charge_point_serial_number="SIM-0001", firmware_version="1.0.0"))
        await self.status("Available")

    # ---- charging -----------------------------------------------------------------------

    async def start_session(self, id_tag: str) -> None:
        await self.status("Preparing")
        started = await self.call(v16.call.StartTransaction(
            connector_id=1, id_tag=id_tag, meter_start=int(self.energy_wh), timestamp=now()))
        if started.id_tag_info["status"] != "Accepted":
            print(f"the gateway refused idTag {id_tag}: {started.id_tag_info}")
            await self.status("Available")
            return
        self.transaction = started.transaction_id
        await self.status("Charging")
        self.metering = asyncio.get_running_loop().create_task(self.meter())

    async def meter(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            watts = VOLTS * PHASES * self.amps
            self.energy_wh += watts * self.period / 3600
            await self.call(v16.call.MeterValues(
                connector_id=1, transaction_id=self.transaction, meter_value=[{
                    "timestamp": now(), "sampled_value": [
                        {"value": f"{self.energy_wh:.0f}", "unit": "Wh",
                         "measurand": "Energy.Active.Import.Register"},
                        {"value": f"{watts:.0f}", "unit": "W",
                         "measurand": "Power.Active.Import"},
                        {"value": f"{self.amps:.1f}", "unit": "A",
                         "measurand": "Current.Import"}]}]))

    async def stop_session(self) -> None:
        if self.metering is not None:
            self.metering.cancel()
        if self.transaction is not None:
            await self.call(v16.call.StopTransaction(
                transaction_id=self.transaction, meter_stop=int(self.energy_wh),
                timestamp=now(), reason="Remote"))
            self.transaction = None
        await self.status("Finishing")
        await self.status("Available")

    # ---- what the gateway (ThingsBoard's RPCs) asks -------------------------------------

    @on("RemoteStartTransaction")
    def on_remote_start(self, id_tag: str, **_: Any) -> Any:
        ok = self.transaction is None
        return v16.call_result.RemoteStartTransaction(status="Accepted" if ok else "Rejected")

    @after("RemoteStartTransaction")
    async def after_remote_start(self, id_tag: str, **_: Any) -> None:
        if self.transaction is None:
            await self.start_session(id_tag)

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int) -> Any:
        ok = transaction_id == self.transaction
        return v16.call_result.RemoteStopTransaction(status="Accepted" if ok else "Rejected")

    @after("RemoteStopTransaction")
    async def after_remote_stop(self, transaction_id: int) -> None:
        if transaction_id == self.transaction:
            await self.stop_session()

    @on("SetChargingProfile")
    def on_set_charging_profile(self, cs_charging_profiles: dict[str, Any], **_: Any) -> Any:
        schedule = cs_charging_profiles["charging_schedule"]
        limit = float(schedule["charging_schedule_period"][0]["limit"])
        self.amps = limit if schedule["charging_rate_unit"] == "A" else limit / VOLTS / PHASES
        return v16.call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **_: Any) -> Any:
        self.amps = 16.0
        return v16.call_result.ClearChargingProfile(status="Accepted")

    @on("GetConfiguration")
    def on_get_configuration(self, **_: Any) -> Any:
        return v16.call_result.GetConfiguration(configuration_key=[
            {"key": "MeterValueSampleInterval", "readonly": False,
             "value": str(int(self.period))}])

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> Any:
        if key != "MeterValueSampleInterval":
            return v16.call_result.ChangeConfiguration(status="NotSupported")
        self.period = max(1.0, float(value))
        return v16.call_result.ChangeConfiguration(status="Accepted")

    @on("ChangeAvailability")
    def on_change_availability(self, **_: Any) -> Any:
        return v16.call_result.ChangeAvailability(status="Accepted")

    @on("UnlockConnector")
    def on_unlock(self, **_: Any) -> Any:
        return v16.call_result.UnlockConnector(status="Unlocked")

    @on("Reset")
    def on_reset(self, **_: Any) -> Any:
        return v16.call_result.Reset(status="Accepted")

    @on("TriggerMessage")
    def on_trigger(self, **_: Any) -> Any:
        return v16.call_result.TriggerMessage(status="Accepted")

    @after("TriggerMessage")
    async def after_trigger(self, requested_message: str, **_: Any) -> None:
        if requested_message == "StatusNotification":
            await self.status("Charging" if self.transaction is not None else "Available")
        elif requested_message == "BootNotification":
            await self.boot()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="ws://gateway:9000/ocpp/<identity>")
    parser.add_argument("--period", type=float, default=5.0, help="seconds between meter values")
    args = parser.parse_args()
    identity = args.url.rstrip("/").rsplit("/", 1)[-1]
    async with websockets.connect(args.url, subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        charger = Charger(identity, ws, period=args.period)
        reader = asyncio.get_running_loop().create_task(charger.start())
        await charger.boot()
        print(f"{identity} connected and booted; waiting for commands (Ctrl-C to leave)")
        await reader


if __name__ == "__main__":
    asyncio.run(main())
