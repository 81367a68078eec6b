"""Cost of central mode's state updater: µs per `observe(...)` call, per message.

    .venv/bin/python bench/observe.py              # figures and the ratio to the baseline
    .venv/bin/python bench/observe.py --save       # record the figures as the new baseline
    .venv/bin/python bench/observe.py --profile "2.0.1 TransactionEvent Updated"

In central mode every CALL a charge point sends goes through `modes/central/observe.observe`
(and, for meter values, `readings.py`) before the admin API, the dashboard and the profiles see
it. Each case feeds one realistic request (and the answer the gateway gave) to a charge point
state that already holds what a real one would: a few connectors with readings, an open
transaction where the message needs one. Figures are the median of `--rounds` runs of `--n`
calls each, on the same state, so they include change detection over that state. A ratio
above 2 to the committed `observe-baseline.json` is a finding (as B6's in micro.py).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from baseline import report

from ocpp_mqtt.modes.central.observe import connected, observe
from ocpp_mqtt.modes.central.state import ChargePointState, ConnectorState

BASELINE = Path(__file__).with_name("observe-baseline.json")
NOW = "2026-11-21T10:00:00Z"
STAMP = "2026-11-21T09:59:58Z"
STARTED = "2026-11-21T09:00:00Z"


def samples_16() -> list[dict[str, Any]]:
    """Ten 1.6 sampled values as a three-phase AC charger sends them: decimal strings, units
    named (kWh, W, A, V, Percent), phases L1-L3 and L1-N, one EV-side SoC."""
    out: list[dict[str, Any]] = [
        {"value": "12345.678", "context": "Sample.Periodic",
         "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "kWh"},
        {"value": "11040", "context": "Sample.Periodic", "measurand": "Power.Active.Import",
         "unit": "W"}]
    for phase in ("L1", "L2", "L3"):
        out.append({"value": "16.02", "context": "Sample.Periodic", "format": "Raw",
                    "measurand": "Current.Import", "phase": phase, "location": "Outlet",
                    "unit": "A"})
    for phase in ("L1-N", "L2-N", "L3-N"):
        out.append({"value": "230.4", "context": "Sample.Periodic", "format": "Raw",
                    "measurand": "Voltage", "phase": phase, "location": "Outlet", "unit": "V"})
    out.append({"value": "32", "context": "Sample.Periodic", "measurand": "Current.Offered",
                "unit": "A"})
    out.append({"value": "67", "context": "Sample.Periodic", "measurand": "SoC",
                "location": "EV", "unit": "Percent"})
    return out


def samples_2x() -> list[dict[str, Any]]:
    """The same ten readings as 2.x sends them: JSON numbers, `unitOfMeasure` (with a
    multiplier on the energy register), units left out where the measurand implies them."""
    out: list[dict[str, Any]] = [
        {"value": 12345.678, "context": "Sample.Periodic",
         "measurand": "Energy.Active.Import.Register",
         "unitOfMeasure": {"unit": "kWh", "multiplier": 0}},
        {"value": 11040, "context": "Sample.Periodic", "measurand": "Power.Active.Import",
         "unitOfMeasure": {"unit": "W"}}]
    for phase in ("L1", "L2", "L3"):
        out.append({"value": 16.02, "context": "Sample.Periodic", "measurand": "Current.Import",
                    "phase": phase, "unitOfMeasure": {"unit": "A"}})
    for phase in ("L1-N", "L2-N", "L3-N"):
        out.append({"value": 230.4, "context": "Sample.Periodic", "measurand": "Voltage",
                    "phase": phase})
    out.append({"value": 32, "context": "Sample.Periodic", "measurand": "Current.Offered"})
    out.append({"value": 67, "context": "Sample.Periodic", "measurand": "SoC",
                "location": "EV", "unitOfMeasure": {"unit": "Percent"}})
    return out


def charge_point(version: str) -> ChargePointState:
    """A charge point as central mode holds it after a while: online, booted, connectors 0-2
    (1.6) or EVSEs 1-2 (2.x) with statuses and a full set of readings on each."""
    cp = ChargePointState("CP-BENCH", "CP-BENCH")
    connected(cp, version, "127.0.0.1", STARTED)
    v16 = version == "1.6"
    for cid in ((0, 1, 2) if v16 else (1, 2)):
        if v16:
            observe(cp, version, "StatusNotification",
                    {"connectorId": cid, "status": "Available", "errorCode": "NoError"}, {}, NOW)
            if cid:
                observe(cp, version, "MeterValues", {"connectorId": cid, "meterValue": [
                    {"timestamp": STAMP, "sampledValue": samples_16()}]}, {}, NOW)
        else:
            observe(cp, version, "StatusNotification",
                    {"timestamp": NOW, "connectorStatus": "Available", "evseId": cid,
                     "connectorId": 1}, {}, NOW)
            observe(cp, version, "MeterValues", {"evseId": cid, "meterValue": [
                {"timestamp": STAMP, "sampledValue": samples_2x()}]}, {}, NOW)
    return cp


def open_16(c: ConnectorState) -> None:
    c.transaction_id, c.session_started_at, c.meter_start_wh = "42", STARTED, 12000000.0
    c.status = c.ocpp_status = "Charging"


def open_2x(c: ConnectorState) -> None:
    c.transaction_id, c.session_started_at, c.meter_start_wh = "tx-1", STARTED, 12000000.0
    c.status, c.ocpp_status = "Charging", "Occupied"


def transaction_event(event: str, state: str, trigger: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "eventType": event, "timestamp": STAMP, "triggerReason": trigger, "seqNo": 3,
        "transactionInfo": {"transactionId": "tx-1", "chargingState": state},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": STAMP, "sampledValue": samples_2x()}]}
    if event == "Started":
        out["idToken"] = {"idToken": "04A2B3C4D5E6F7", "type": "ISO14443"}
    if event == "Ended":
        out["transactionInfo"]["stoppedReason"] = "EVDisconnected"
    return out


# name -> (version, action, request, response, whether connector/EVSE 1 has a transaction open
# first, a step run before every call that puts back what the call changed, or None)
Case = tuple[str, str, dict[str, Any], dict[str, Any] | None, bool,
             Callable[[ChargePointState], None] | None]
CASES: dict[str, Case] = {
    "1.6 MeterValues 10 samples": ("1.6", "MeterValues", {
        "connectorId": 1, "transactionId": 42,
        "meterValue": [{"timestamp": STAMP, "sampledValue": samples_16()}]}, {}, True, None),
    "1.6 StartTransaction": ("1.6", "StartTransaction", {
        "connectorId": 1, "idTag": "04A2B3C4", "meterStart": 12000000, "timestamp": STARTED},
        {"transactionId": 42, "idTagInfo": {"status": "Accepted"}}, False,
        lambda cp: setattr(cp.connectors[1], "transaction_id", None)),
    "1.6 StopTransaction 10 samples": ("1.6", "StopTransaction", {
        "transactionId": 42, "idTag": "04A2B3C4", "meterStop": 12345678, "timestamp": STAMP,
        "reason": "EVDisconnected",
        "transactionData": [{"timestamp": STAMP, "sampledValue": samples_16()}]},
        {"idTagInfo": {"status": "Accepted"}}, True,
        lambda cp: setattr(cp.connectors[1], "transaction_id", "42")),
    "1.6 StatusNotification": ("1.6", "StatusNotification", {
        "connectorId": 1, "status": "Charging", "errorCode": "NoError", "timestamp": STAMP},
        {}, False, None),
    "1.6 Heartbeat": ("1.6", "Heartbeat", {}, {"currentTime": NOW}, False, None),
    "2.0.1 TransactionEvent Started": ("2.0.1", "TransactionEvent",
                                       transaction_event("Started", "EVConnected",
                                                         "CablePluggedIn"), {}, False,
                                       lambda cp: setattr(cp.connectors[1], "transaction_id",
                                                          None)),
    "2.0.1 TransactionEvent Updated": ("2.0.1", "TransactionEvent",
                                       transaction_event("Updated", "Charging",
                                                         "MeterValuePeriodic"), {}, True,
                                       None),
    "2.0.1 TransactionEvent Ended": ("2.0.1", "TransactionEvent",
                                     transaction_event("Ended", "EVConnected", "EVDeparted"), {},
                                     True, lambda cp: setattr(cp.connectors[1], "transaction_id",
                                                        "tx-1")),
    "2.1 TransactionEvent Updated": ("2.1", "TransactionEvent",
                                     transaction_event("Updated", "Charging",
                                                       "MeterValuePeriodic"), {}, True,
                                     None),
    "2.0.1 StatusNotification": ("2.0.1", "StatusNotification", {
        "timestamp": STAMP, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}, {},
        True, None),
    "2.0.1 Heartbeat": ("2.0.1", "Heartbeat", {}, {"currentTime": NOW}, False, None),
}


def vary(value: Any, i: int) -> Any:
    """`value` as the charge point would send it `i` messages later: every timestamp `i`
    seconds on, the energy register `i` Wh up (so no cache of a timestamp or a value is hit
    by the message before, as in a real stream)."""
    if isinstance(value, dict):
        out = {key: vary(item, i) for key, item in value.items()}
        if out.get("measurand") == "Energy.Active.Import.Register":
            energy = out["value"]
            out["value"] = (f"{float(energy) + i / 1000:.3f}" if isinstance(energy, str)
                            else round(energy + i / 1000, 3))
        return out
    if isinstance(value, list):
        return [vary(item, i) for item in value]
    if value in (STAMP, STARTED):
        moment = datetime.fromisoformat(value) + timedelta(seconds=i)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def setup(name: str, n: int) -> tuple[ChargePointState, Callable[[], None]]:
    """The charge point of a case and a function making `n` observe() calls, each with the
    next of `n` requests (see vary())."""
    version, action, request, response, transaction, prepare = CASES[name]
    cp = charge_point(version)
    if transaction:
        (open_16 if version == "1.6" else open_2x)(cp.connectors[1])
    requests = [vary(request, i) for i in range(n)]
    observe(cp, version, action, request, response, NOW)  # may create connectors...
    if prepare is not None:  # the step (one attribute set, ~0.02 µs) is timed with the call

        def calls() -> None:
            for req in requests:
                prepare(cp)
                observe(cp, version, action, req, response, NOW)
    else:
        def calls() -> None:
            for req in requests:
                observe(cp, version, action, req, response, NOW)
    return cp, calls


def measure(name: str, n: int, rounds: int) -> float:
    """CPU time (not wall time: the machine is shared) per call, median of `rounds` runs."""
    _, calls = setup(name, n)
    runs = []
    for _ in range(rounds):
        start = time.process_time()
        calls()
        runs.append((time.process_time() - start) / n * 1e6)
    return statistics.median(runs)


def profile(name: str, n: int) -> None:
    _, calls = setup(name, n)
    profiler = cProfile.Profile()
    profiler.enable()
    calls()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="calls per run")
    ap.add_argument("--rounds", type=int, default=5, help="runs per case (the median is shown)")
    ap.add_argument("--save", action="store_true", help="write the figures as the baseline")
    ap.add_argument("--profile", metavar="CASE", choices=list(CASES),
                    help="print a cProfile of one case instead of the figures")
    args = ap.parse_args()
    if args.profile:
        profile(args.profile, args.n)
        return
    results = {name: measure(name, args.n, args.rounds) for name in CASES}
    report(results, BASELINE, "us/call", args.save)


if __name__ == "__main__":
    main()
