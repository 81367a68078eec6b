"""The built-in central system's answers, the idTag list and the store, without sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp_mqtt.config import load_settings
from ocpp_mqtt.modes.central.answers import Answerer, energy_register_wh, iso_now
from ocpp_mqtt.modes.central.authz import IdTags, parse_id_tags
from ocpp_mqtt.modes.central.state import ChargePointState
from ocpp_mqtt.modes.central.store import MAX_TRANSACTION_ID, Store
from ocpp_mqtt.ocppj.actions import CP_INITIATED
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

NOW = datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
SCHEMAS = Schemas()


def answerer(tmp_path: Path, **settings: Any) -> Answerer:
    values: dict[str, Any] = {"mode": "central", "store": str(tmp_path / "a.sqlite3")}
    values.update(settings)
    s = load_settings(None, **values)
    return Answerer(s, Store(s.store))


@pytest.mark.parametrize("version", list(Version))
def test_every_charge_point_action_gets_a_valid_answer_or_not_supported(
        tmp_path: Path, version: Version) -> None:
    """ER-04 and the response schemas: whatever a charge point may send, with no optional
    field, the answer validates against the official response schema, or is NotSupported."""
    a = answerer(tmp_path)
    cp = ChargePointState("CP", "CP")
    not_supported = []
    for action in sorted(CP_INITIATED[version]):
        answer = a.answer(cp, version, action, {}, NOW)
        if answer.error is not None:
            assert answer.error[0] == "NotSupported", (action, answer.error)
            not_supported.append(action)
            continue
        error = SCHEMAS.check(version, action, answer.payload, response=True)
        assert error is None, (version, action, answer.payload, error)
    # only requests needing a real certificate/ISO 15118 back-end remain unanswered
    assert set(not_supported) <= {"GetCertificateChainStatus", "BatterySwap"}, not_supported


def test_boot_policies(tmp_path: Path) -> None:
    cp = ChargePointState("CP7", "CP7")
    for policy, expected in [("accept", "Accepted"), ("pending", "Pending"),
                             ("reject", "Rejected"), ("listed", "Rejected")]:
        reply = answerer(tmp_path, boot_policy=policy, heartbeat_interval=42).answer(
            cp, Version.V16, "BootNotification", {}, NOW).payload
        assert reply == {"status": expected, "interval": 42,
                         "currentTime": "2026-03-04T05:06:07.890Z"}
    listed = answerer(tmp_path, boot_policy="listed", boot_allowed=["CP7"])
    assert listed.answer(cp, Version.V201, "BootNotification", {}, NOW).payload["status"] == \
        "Accepted"


def test_current_time_has_a_zone_designator() -> None:
    """ocpp2mqtt bug 10: its Boot currentTime had no Z."""
    assert iso_now(NOW) == "2026-03-04T05:06:07.890Z"


def test_id_tags_statuses_expiry_parent_and_case() -> None:
    tags = IdTags({"Alice": "Accepted", "Bob": {"status": "Blocked"},
                   "Carol": {"status": "Accepted", "expiry": "2026-01-01T00:00:00Z",
                             "parent": "FLEET"},
                   "Dan": {"expiry": (NOW + timedelta(days=1)).isoformat()}}, "Invalid")
    assert tags.id_tag_info("ALICE", NOW) == {"status": "Accepted"}
    assert tags.id_tag_info("bob", NOW) == {"status": "Blocked"}
    assert tags.id_tag_info("Carol", NOW) == {
        "status": "Expired", "expiryDate": "2026-01-01T00:00:00Z", "parentIdTag": "FLEET"}
    assert tags.id_tag_info("Dan", NOW)["status"] == "Accepted"
    assert tags.id_tag_info("stranger", NOW) == {"status": "Invalid"}
    assert tags.id_tag_info(None, NOW) == {"status": "Invalid"}
    # the gateway's charging switch off: Blocked whatever the tag (ocpp2mqtt's gate, visible)
    assert tags.id_tag_info("Alice", NOW, enabled=False) == {"status": "Blocked"}
    assert tags.id_token_info("carol", NOW)["groupIdToken"] == {"idToken": "FLEET",
                                                                "type": "Central"}


@pytest.mark.parametrize("spec, message", [
    ({"A": "Maybe"}, "status 'Maybe'"),
    ({"A": {"status": "Accepted", "colour": "red"}}, "unknown key"),
    ({"A": {"expiry": "tomorrow"}}, "ISO 8601"),
    ({"A": "Accepted", "a": "Blocked"}, "listed twice"),
    ({"": "Accepted"}, "1 to 36"),
    ({"A": 3}, "expected a status"),
])
def test_id_tag_config_errors_name_the_tag(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_id_tags(spec)


def test_unknown_tags_are_not_accepted_by_default(tmp_path: Path) -> None:
    a = answerer(tmp_path)
    cp = ChargePointState("CP", "CP")
    start = a.answer(cp, Version.V16, "StartTransaction",
                     {"connectorId": 1, "idTag": "RANDOM", "meterStart": 0, "timestamp": "t"},
                     NOW).payload
    assert start["idTagInfo"] == {"status": "Invalid"}  # the tag list counts here too


def test_store_ids_unique_persistent_and_repeats_deduplicated(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path)
    first, new = store.start_transaction("CP", 1, "T", "2026-01-01T00:00:00Z", 10.0)
    assert new
    again, new = store.start_transaction("CP", 1, "T", "2026-01-01T00:00:00Z", 10.0)
    assert not new and again.id == first.id
    other, _ = store.start_transaction("CP", 2, "T", "2026-01-01T00:00:00Z", 10.0)
    store.close()
    reopened = Store(path)
    later, _ = reopened.start_transaction("CP", 1, "T", "2026-01-01T01:00:00Z", 20.0)
    assert len({first.id, other.id, later.id}) == 3 and later.id > other.id
    tx, _ = reopened.start_transaction("CP", 1, None, None, None, ocpp_id="abc")
    assert reopened.find_transaction("CP", ocpp_id="abc") == tx
    assert reopened.find_transaction("OTHER", ocpp_id="abc") is None
    ended = reopened.stop_transaction(later, "2026-01-01T02:00:00Z", 1020.0, "Local")
    assert ended.to_json()["energy_wh"] == 1000.0


def test_store_transaction_ids_wrap_below_32_bits(tmp_path: Path) -> None:
    store = Store(tmp_path / "w.sqlite3")
    store.start_transaction("CP", 1, None, "a", 0.0)
    store.db.execute("UPDATE sqlite_sequence SET seq=? WHERE name='transactions'",
                     (MAX_TRANSACTION_ID,))
    tx, _ = store.start_transaction("CP", 1, None, "b", 0.0)
    assert 1 < tx.id <= MAX_TRANSACTION_ID


def test_state_round_trips_through_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "st.sqlite3")
    cp = ChargePointState("CP+1", "CP%2B1", vendor="V", online=True)
    cp.connector(1).energy_wh = 1234.5
    cp.connector(1).readings["Voltage.L1-N"] = 230.0
    store.save_state(cp)
    loaded = store.load_states()["CP+1"]
    assert loaded == cp


def test_energy_register_of_a_20_meter_value_list() -> None:
    assert energy_register_wh([{"sampledValue": [
        {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}},
        {"value": 99, "measurand": "Power.Active.Import"},
        {"value": 7, "measurand": "Energy.Active.Import.Register", "phase": "L1"}]}]) == 1500.0
    assert energy_register_wh([{"sampledValue": [
        {"value": 2, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}}]}]) == 2000.0
    assert energy_register_wh("junk") is None


def test_the_remote_start_tag_passes_unless_listed_otherwise() -> None:
    """start_charging sends remote_start_id_tag: the charger's Authorize of it must pass."""
    tags = IdTags({}, "Invalid", "ocpp-mqtt")
    assert tags.id_tag_info("OCPP-MQTT", NOW) == {"status": "Accepted"}
    assert tags.id_token_info("ocpp-mqtt", NOW) == {"status": "Accepted"}
    listed = IdTags({"ocpp-mqtt": "Blocked"}, "Invalid", "ocpp-mqtt")
    assert listed.id_tag_info("ocpp-mqtt", NOW) == {"status": "Blocked"}
