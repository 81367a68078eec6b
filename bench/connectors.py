"""What the dashboard's connector status costs the relay (modes/connectors.py), in-process.

    .venv/bin/python bench/connectors.py [--n 20000]

With the admin listener on, relay and proxy mode pass each charge point CALL to the
ConnectorTracker: an untracked action costs one set lookup, and so does a periodic
TransactionEvent Updated (micro.py's case); a StatusNotification, or a TransactionEvent that
says a charging state, runs central mode's `observe` on a small state (rare: status changes).
Printed per action ("watched": with a live-stream reader subscribed), next to what the relay
spends on the same CALL anyway (bench/micro.py's "CALL up": parse, checks, validation, EMQX
envelope), with the ratio; then what one `/api/v1/charge-points` row's connector list costs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from micro import CASES, measure

from ocpp_mqtt.admin.stream import Stream
from ocpp_mqtt.modes.connectors import ConnectorTracker, outlets
from ocpp_mqtt.transport.recent import QUIET, Tap

STATUS = {"1.6 StatusNotification": ("1.6", "StatusNotification", [
    {"connectorId": 1, "errorCode": "NoError", "status": s}
    for s in ("Preparing", "Charging", "SuspendedEV", "Charging")])}


def cases() -> dict[str, tuple[str, str, list[dict[str, Any]]]]:
    """name -> (version, action, payloads cycled through, so state changes every time)."""
    out = dict(STATUS)
    for name, (version, action, payload, _answer) in CASES.items():
        out[name] = (version.value, action, [payload])
    tx = CASES["2.0.1 TransactionEvent"][2]
    states = ("Charging", "SuspendedEV")
    out["2.0.1 TransactionEvent charging state"] = ("2.0.1", "TransactionEvent", [
        {**tx, "seqNo": i, "transactionInfo": {"transactionId": "tx-1",
                                               "chargingState": states[i % 2]}}
        for i in range(4)])
    return out


def per_take(version: str, action: str, payloads: list[dict[str, Any]], tap: Tap,
             n: int) -> float:
    tracker = ConnectorTracker()
    k = len(payloads)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(n):
            tracker.take("CP1", version, action, payloads[i % k], tap)
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="CALLs per case")
    args = ap.parse_args()
    relay = measure(args.n // 4, rounds=2)
    print(f"{'case':40} {'tracker us':>10} {'watched us':>10} {'relay us':>9} {'ratio':>6}")
    for name, (version, action, payloads) in cases().items():
        quiet = per_take(version, action, payloads, QUIET, args.n)

        async def watched(version: str = version, action: str = action,
                          payloads: list[dict[str, Any]] = payloads) -> float:
            stream = Stream(buffer=10**9)
            reader = stream.subscribe(None)
            took = per_take(version, action, payloads, stream, args.n)
            reader.queue.clear()
            return took

        seen = asyncio.run(watched())
        base = relay.get(f"{name.removesuffix(' charging state')}: CALL up")
        ratio = f"{quiet / base:6.3f}" if base else "     -"
        print(f"{name:40} {quiet:10.3f} {seen:10.3f} {base or 0:9.2f} {ratio}")
    tracker = ConnectorTracker()
    for c in (1, 2):
        tracker.take("CP1", "1.6", "StatusNotification",
                     {"connectorId": c, "errorCode": "NoError", "status": "Charging"}, QUIET)
    cp = tracker.states["CP1"]
    start = time.perf_counter()
    for _ in range(args.n):
        outlets(cp)
    row = (time.perf_counter() - start) / args.n * 1e6
    print(f"\nconnector list of one row (2 connectors): {row:.2f} us; a 1000-row page: "
          f"{row * 1000 / 1000:.2f} ms")


if __name__ == "__main__":
    main()
