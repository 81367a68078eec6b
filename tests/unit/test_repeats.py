"""MessageKey and Duplicate marks on repeated transaction messages (issue 6, point 6)."""

from __future__ import annotations

import orjson

from ocpp_mqtt.modes.repeats import TRANSACTION_ACTIONS, Repeats, message_key

METER = {"connectorId": 1, "transactionId": 7, "meterValue": [
    {"timestamp": "2026-11-21T10:00:00Z", "sampledValue": [{"value": "12.5"}]}]}


def keys(extra: bytes) -> dict[str, object]:
    return dict(orjson.loads(b"{" + extra[1:] + b"}")) if extra else {}


def test_key_ignores_key_order_but_not_content_identity_or_action() -> None:
    reordered = {"meterValue": METER["meterValue"], "transactionId": 7, "connectorId": 1}
    assert message_key("CP1", "MeterValues", METER) == message_key("CP1", "MeterValues",
                                                                    reordered)
    other = {**METER, "transactionId": 8}
    assert message_key("CP1", "MeterValues", METER) != message_key("CP1", "MeterValues", other)
    assert message_key("CP1", "MeterValues", METER) != message_key("CP2", "MeterValues", METER)
    assert message_key("CP1", "MeterValues", METER) != message_key("CP1", "DataTransfer", METER)
    # "CP1" + "MeterValues" must not collide with "CP1M" + "eterValues"
    assert message_key("CP1", "MeterValues", {}) != message_key("CP1M", "eterValues", {})


def test_second_copy_is_flagged_with_the_first_time() -> None:
    repeats = Repeats(list(TRANSACTION_ACTIONS), window=60, capacity=10)
    first = keys(repeats.mark("CP1", "MeterValues", METER, now_ms=1_000))
    again = keys(repeats.mark("CP1", "MeterValues", dict(METER), now_ms=5_000))
    assert "Duplicate" not in first
    assert again == {"MessageKey": first["MessageKey"], "Duplicate": True, "FirstSeenAt": 1_000}


def test_actions_outside_the_list_are_not_keyed() -> None:
    repeats = Repeats(["StopTransaction"], window=60, capacity=10)
    assert repeats.mark("CP1", "MeterValues", METER, now_ms=1) == b""
    assert repeats.mark("CP1", "Heartbeat", {}, now_ms=1) == b""
    assert keys(repeats.mark("CP1", "StopTransaction", {"meterStop": 1}, now_ms=1))


def test_window_and_capacity_forget_oldest_first() -> None:
    repeats = Repeats(list(TRANSACTION_ACTIONS), window=10, capacity=2)
    repeats.mark("CP1", "MeterValues", {"n": 1}, now_ms=0)
    assert "Duplicate" not in keys(repeats.mark("CP1", "MeterValues", {"n": 1}, now_ms=10_001))
    repeats.mark("CP1", "MeterValues", {"n": 2}, now_ms=10_002)
    repeats.mark("CP1", "MeterValues", {"n": 3}, now_ms=10_003)  # capacity 2: n=1 forgotten
    assert len(repeats) == 2
    assert "Duplicate" not in keys(repeats.mark("CP1", "MeterValues", {"n": 1}, now_ms=10_004))
    assert keys(repeats.mark("CP1", "MeterValues", {"n": 3}, now_ms=10_005))["Duplicate"] is True


def test_window_zero_keeps_keys_without_flags() -> None:
    repeats = Repeats(list(TRANSACTION_ACTIONS), window=0, capacity=10)
    a = keys(repeats.mark("CP1", "MeterValues", METER, now_ms=1))
    b = keys(repeats.mark("CP1", "MeterValues", METER, now_ms=2))
    assert a == b and set(a) == {"MessageKey"} and len(repeats) == 0


def test_keys_loaded_from_a_store_flag_repeats_and_new_keys_are_reported() -> None:
    stored: list[tuple[str, int]] = []
    repeats = Repeats(list(TRANSACTION_ACTIONS), window=60, capacity=2)
    old = message_key("CP1", "StopTransaction", {"meterStop": 1})
    repeats.load([("k0", 1), ("k1", 2), (old, 3)])  # capacity 2 keeps the newest
    assert len(repeats) == 2
    repeats.on_new = lambda key, ms: stored.append((key, ms))
    again = keys(repeats.mark("CP1", "StopTransaction", {"meterStop": 1}, now_ms=10))
    assert again["Duplicate"] is True and again["FirstSeenAt"] == 3 and not stored
    fresh = keys(repeats.mark("CP1", "StopTransaction", {"meterStop": 2}, now_ms=11))
    assert stored == [(fresh["MessageKey"], 11)]
