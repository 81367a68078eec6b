"""Relay mode's connector tracker (modes/connectors.py), no sockets: which frames it reads,
the status vocabulary it shares with central mode, and the `connectors` events it emits on
the admin API's live stream (only when someone watches, only when an outlet changed)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from ocpp_mqtt.admin.stream import Stream
from ocpp_mqtt.modes.connectors import ConnectorTracker, outlets
from ocpp_mqtt.transport.recent import QUIET


def status16(connector: int, status: str, error: str = "NoError") -> dict[str, Any]:
    return {"connectorId": connector, "status": status, "errorCode": error}


def statuses(tracker: ConnectorTracker, identity: str) -> list[tuple[int, str | None]]:
    return [(c["id"], c["status"]) for c in outlets(tracker.states[identity])]


def test_v16_status_notifications() -> None:
    tracker = ConnectorTracker()
    tracker.take("CP", "1.6", "Heartbeat", {}, QUIET)
    tracker.take("CP", "1.6", "MeterValues", {"connectorId": 1, "meterValue": []}, QUIET)
    assert tracker.states == {}  # nothing but the two status-bearing actions is read
    tracker.take("CP", "1.6", "StatusNotification", status16(0, "Available"), QUIET)
    tracker.take("CP", "1.6", "StatusNotification", status16(2, "Available"), QUIET)
    tracker.take("CP", "1.6", "StatusNotification", status16(1, "Charging"), QUIET)
    assert statuses(tracker, "CP") == [(1, "Charging"), (2, "Available")]  # no connector 0
    tracker.take("CP", "1.6", "StatusNotification", status16(2, "Faulted", "GroundFailure"),
                 QUIET)
    faulted = outlets(tracker.states["CP"])[1]
    assert faulted["status"] == "Faulted" and faulted["error_code"] == "GroundFailure"
    tracker.take("CP", "1.6", "StatusNotification", {"connectorId": "x"}, QUIET)  # no crash
    tracker.forget("CP")
    assert tracker.states == {}


def test_v2x_status_and_transaction_events() -> None:
    tracker = ConnectorTracker()
    tracker.take("S", "2.0.1", "StatusNotification", {
        "timestamp": "2026-01-01T00:00:00Z", "connectorStatus": "Occupied", "evseId": 1,
        "connectorId": 1}, QUIET)
    assert statuses(tracker, "S") == [(1, "Preparing")]  # Occupied reads Preparing
    event = {"eventType": "Started", "timestamp": "2026-01-01T00:00:01Z", "seqNo": 0,
             "triggerReason": "Authorized", "evse": {"id": 1, "connectorId": 1},
             "transactionInfo": {"transactionId": "t1", "chargingState": "Charging"}}
    tracker.take("S", "2.0.1", "TransactionEvent", event, QUIET)
    assert statuses(tracker, "S") == [(1, "Charging")]
    assert outlets(tracker.states["S"])[0]["transaction_id"] == "t1"
    tracker.take("S", "2.1", "TransactionEvent", {
        **event, "eventType": "Updated", "seqNo": 1,
        "transactionInfo": {"transactionId": "t1", "chargingState": "SuspendedEV"}}, QUIET)
    assert statuses(tracker, "S") == [(1, "SuspendedEV")]
    # a periodic Update says no charging state: skipped, and readings are never kept
    before = outlets(tracker.states["S"])
    periodic = {"eventType": "Updated", "timestamp": "2026-01-01T00:00:02Z", "seqNo": 2,
                "triggerReason": "MeterValuePeriodic", "transactionInfo": {"transactionId": "t1"},
                "meterValue": [{"timestamp": "2026-01-01T00:00:02Z", "sampledValue": [
                    {"value": 7000, "measurand": "Power.Active.Import"}]}]}
    tracker.take("S", "2.0.1", "TransactionEvent", periodic, QUIET)
    tracker.take("S", "2.0.1", "TransactionEvent", {
        **periodic, "transactionInfo": {"transactionId": "t1", "chargingState": "Charging"}},
        QUIET)
    after = outlets(tracker.states["S"])
    assert before[0]["status"] == "SuspendedEV" and after[0]["status"] == "Charging"
    assert after[0]["power_w"] is None and after[0]["energy_wh"] is None
    tracker.take("S", "2.0.1", "TransactionEvent", {
        **event, "eventType": "Ended", "seqNo": 2,
        "transactionInfo": {"transactionId": "t1", "chargingState": "Idle"}}, QUIET)
    assert statuses(tracker, "S") == [(1, "Available")]


def test_connectors_events_only_when_watched_and_changed() -> None:
    async def run() -> None:
        stream = Stream(buffer=10)
        tracker = ConnectorTracker()
        tracker.take("CP", "1.6", "StatusNotification", status16(1, "Available"), stream)
        reader = stream.subscribe(None)
        tracker.take("CP", "1.6", "StatusNotification", status16(1, "Preparing"), stream)
        tracker.take("CP", "1.6", "StatusNotification", status16(1, "Preparing"), stream)
        tracker.take("CP", "1.6", "StatusNotification", status16(0, "Unavailable"), stream)
        assert len(reader.queue) == 1  # not the repeat, not connector 0
        message = reader.queue.popleft().decode()
        assert "event: connectors\n" in message
        data = orjson.loads(message.split("data: ", 1)[1])
        assert data["identity"] == "CP"
        assert [(c["id"], c["status"]) for c in data["connectors"]] == [(1, "Preparing")]
        picky = stream.subscribe(None, frozenset({"frame"}))
        tracker.take("CP", "1.6", "StatusNotification", status16(1, "Charging"), stream)
        assert not picky.queue and len(reader.queue) == 1

    asyncio.run(run())


def test_a_repeated_status_at_another_time_is_not_news() -> None:
    """A StatusNotification repeated a moment later changes only `status_at`, which the
    connectors view does not show: the stream sends the view once (it was flaky when the
    two arrived in different milliseconds); after a disconnect it is sent again."""
    async def run() -> None:
        stream = Stream(buffer=10)
        reader = stream.subscribe(None)
        tracker = ConnectorTracker()
        tracker.take("CP", "1.6", "StatusNotification",
                     {**status16(1, "Preparing"), "timestamp": "2026-01-01T00:00:00Z"}, stream)
        tracker.take("CP", "1.6", "StatusNotification",
                     {**status16(1, "Preparing"), "timestamp": "2026-01-01T00:00:05Z"}, stream)
        assert [m.split(b"\n")[1] for m in reader.queue] == [b"event: connectors"]
        stream.event("disconnected", "CP", {})
        tracker.take("CP", "1.6", "StatusNotification",
                     {**status16(1, "Preparing"), "timestamp": "2026-01-01T00:00:09Z"}, stream)
        assert [m.split(b"\n")[1] for m in reader.queue] == [
            b"event: connectors", b"event: disconnected", b"event: connectors"]

    asyncio.run(run())
