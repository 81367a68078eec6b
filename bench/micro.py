"""B6: in-process cost of the gateway's per-message work, per action (no sockets, no broker).

    .venv/bin/python bench/micro.py            # figures and the ratio to the committed baseline
    .venv/bin/python bench/micro.py --save     # record the figures as the new baseline

Each case measures one direction of one message as the relay does it: a charge point CALL
(parse, checks, validation, EMQX envelope), the backend's CALLRESULT to it (decode, validation,
frame, acknowledgement), and a backend CALL plus the charge point's result. A ratio above 2 to
the committed baseline is a finding (shared/reference/benchmarks.md, B6).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from baseline import report

from ocpp_mqtt.northbound import emqx
from ocpp_mqtt.ocppj.events import Outcome, UpCall, UpResult
from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

BASELINE = Path(__file__).with_name("micro-baseline.json")
SAMPLED = [{"value": "123.4", "context": "Sample.Periodic", "format": "Raw", "measurand": m,
            "phase": p, "location": "Outlet", "unit": u}
           for m, u in (("Current.Import", "A"), ("Voltage", "V"), ("Power.Active.Import", "W"))
           for p in ("L1", "L2", "L3")]
CASES: dict[str, tuple[Version, str, dict[str, Any], dict[str, Any]]] = {
    "1.6 BootNotification": (Version.V16, "BootNotification",
                             {"chargePointVendor": "V", "chargePointModel": "M"},
                             {"currentTime": "2025-01-01T00:00:00Z", "interval": 300,
                              "status": "Accepted"}),
    "1.6 Heartbeat": (Version.V16, "Heartbeat", {}, {"currentTime": "2025-01-01T00:00:00Z"}),
    "1.6 MeterValues 1.2 kB": (Version.V16, "MeterValues", {
        "connectorId": 1, "transactionId": 42,
        "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": SAMPLED}]}, {}),
    "2.0.1 BootNotification": (Version.V201, "BootNotification", {
        "reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
        {"currentTime": "2025-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}),
    "2.0.1 TransactionEvent": (Version.V201, "TransactionEvent", {
        "eventType": "Updated", "timestamp": "2025-01-01T00:00:00Z",
        "triggerReason": "MeterValuePeriodic", "seqNo": 3,
        "transactionInfo": {"transactionId": "tx-1"},
        "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": [
            {"value": 1234.5, "measurand": "Energy.Active.Import.Register"}]}]}, {}),
}


def timed(fn: Callable[[int], None], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n * 1e6


def measure(n: int, rounds: int = 3) -> dict[str, float]:
    schemas = Schemas()
    results: dict[str, float] = {}
    for name, (version, action, payload, answer) in CASES.items():
        frames = [orjson.dumps([2, f"id{i}", action, payload]).decode() for i in range(n)]
        replies = [orjson.dumps({"MessageTypeId": 3, "UniqueId": f"id{i}", "Payload": answer})
                   for i in range(n)]
        best_up = best_down = float("inf")
        for _ in range(rounds):  # best of a few rounds, each on a fresh session
            session = Session(version, schemas, Policy())

            def up(i: int, session: Session = session, frames: list[str] = frames) -> None:
                event = session.receive(frames[i], 0.0)[0]
                assert isinstance(event, UpCall), event
                emqx.encode_call(event, 0, False)

            def down(i: int, session: Session = session,
                     replies: list[bytes] = replies) -> None:
                message = emqx.decode_downstream(replies[i])
                for event in session.backend_result(message.unique_id or "", message.payload,
                                                    None, 0.0):
                    if isinstance(event, Outcome):
                        emqx.encode_outcome(event, 0)

            best_up = min(best_up, timed(up, n))  # leaves n CALLs pending for `down`
            best_down = min(best_down, timed(down, n))
        results[f"{name}: CALL up"] = best_up
        results[f"{name}: result down"] = best_down
    return results


def relay_round_trip(n: int) -> float:
    """The whole relay path for one B1 round trip, in-process: Relay.on_text (parse, checks,
    validation, envelope, MQTT packet) then Relay.on_mqtt (decode, validation, frame, ack)."""
    import asyncio
    from types import SimpleNamespace

    from ocpp_mqtt.config import load_settings
    from ocpp_mqtt.modes.relay import Relay, policy_from
    from ocpp_mqtt.northbound.mqtt import MqttLink
    from ocpp_mqtt.transport.connection import Connection

    class QuietSocket:
        closed = False

        async def send_str(self, text: str) -> None:
            return None

    async def run() -> float:
        settings = load_settings(None, qos=0, ack_qos=0)
        relay = Relay(settings)
        link = MqttLink(settings.mqtt_target, client_id="bench", version="3.1.1", keepalive=60,
                        will=None, tls=None, on_message=relay.on_mqtt)
        link.connected = True  # packets are built and dropped: no socket
        link._client._connection = SimpleNamespace(
            _protocol=SimpleNamespace(write_data=lambda data: None))
        relay.link = link
        session = Session(Version.V16, Schemas(), policy_from(settings))
        conn = Connection(QuietSocket(), "CP1", "CP1", Version.V16, session,  # type: ignore[arg-type]
                          "127.0.0.1", 9000, None, 60)
        conn.topics = relay.topics_for("CP1")
        relay.connections["CP1"] = conn
        relay._by_topic[conn.topics.dnstream] = conn
        payload = CASES["1.6 MeterValues 1.2 kB"][2]
        frames = [orjson.dumps([2, f"id{i}", "MeterValues", payload]).decode() for i in range(n)]
        replies = [orjson.dumps({"MessageTypeId": 3, "UniqueId": f"id{i}", "Payload": {}})
                   for i in range(n)]
        topic = conn.topics.dnstream
        start = time.perf_counter()
        for i in range(n):
            relay.on_text(conn, frames[i])
            relay.on_mqtt(topic, replies[i], {})
            link._wbuf.clear()
        return (time.perf_counter() - start) / n * 1e6

    return asyncio.run(run())


OUT_CASES: dict[str, tuple[Version, str, dict[str, Any], str]] = {
    "1.6 Reset": (Version.V16, "Reset", {"type": "Soft"}, '{"status":"Accepted"}'),
    "2.0.1 GetVariables": (Version.V201, "GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
        '{"getVariableResult":[{"attributeStatus":"Accepted","component":{"name":'
        '"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"},"attributeValue":"300"}]}'),
}


def outgoing_round_trip(n: int, queued: int, rounds: int = 3) -> dict[str, float]:
    """A backend CALL toward the charge point (checks, validation, frame, `sent` Outcome) and
    the charge point's CALLRESULT to it (match, validation, `answered` Outcome, EMQX envelope),
    with `queued` more CALLs waiting behind the outstanding one (the SY-01 queue)."""
    schemas = Schemas()
    results: dict[str, float] = {}
    for name, (version, action, payload, answer) in OUT_CASES.items():
        best = float("inf")
        for _ in range(rounds):
            session = Session(version, schemas, Policy(max_queue=queued + 1))
            for j in range(queued):  # the first is sent: its id is answered first
                session.backend_call(f"q{j}", action, payload, None, 0.0)
            order = [f"q{j}" for j in range(queued)] + [f"id{i}" for i in range(n)]
            answers = [f'[3,"{uid}",{answer}]' for uid in order[:n]]
            ids = [f"id{i}" for i in range(n)]

            def op(i: int, session: Session = session, ids: list[str] = ids,
                   answers: list[str] = answers, action: str = action,
                   payload: dict[str, Any] = payload) -> None:
                for event in session.backend_call(ids[i], action, payload, None, 0.0):
                    if isinstance(event, Outcome):
                        emqx.encode_outcome(event, 0)
                for event in session.receive(answers[i], 0.0):
                    if isinstance(event, UpResult):
                        emqx.encode_result(event, 0, False)
                    elif isinstance(event, Outcome):
                        emqx.encode_outcome(event, 0)

            best = min(best, timed(op, n))
        suffix = f", {queued} queued" if queued else ""
        results[f"{name}: CALL down + result up{suffix}"] = best
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="messages per case")
    ap.add_argument("--save", action="store_true", help="write the figures as the baseline")
    args = ap.parse_args()
    results = measure(args.n)
    results.update(outgoing_round_trip(args.n, 0))
    results.update(outgoing_round_trip(args.n, 10))
    results["relay round trip, 1.6 MeterValues 1.2 kB (no I/O)"] = min(
        relay_round_trip(args.n) for _ in range(3))
    report(results, BASELINE, "us/op", args.save)


if __name__ == "__main__":
    main()
