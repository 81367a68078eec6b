"""Meter readings read per shape (modes/central/shapes.py, units.py, readings.py) and the
state updater's scoped change detection (changes.py): the caches are bounded and never change
a result, edge cases of a sample read as the rules say, and the scoped comparison finds exactly
what a full snapshot of the state finds."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from ocpp_mqtt.modes.central import readings as rd
from ocpp_mqtt.modes.central import shapes
from ocpp_mqtt.modes.central.changes import changes, snapshot
from ocpp_mqtt.modes.central.observe import connected, observe
from ocpp_mqtt.modes.central.state import ChargePointState
from ocpp_mqtt.modes.central.units import MAIN_FIELDS, round6

from .test_central_observe import NOW, T0, TEMPLATES_2X, TEMPLATES_16, mutate


def one(item: dict[str, Any], v16: bool = True) -> rd.Sample | None:
    return rd.sample(item, v16)


# ---- edge cases of one sample -----------------------------------------------------------------

def test_a_value_given_as_a_decimal_string_keeps_its_value() -> None:
    found = one({"value": "1234.50", "measurand": "Power.Active.Import", "unit": "W"})
    assert found is not None and found.value == 1234.5 and repr(found.value) == "1234.5"
    comma = one({"value": " 7,25 ", "measurand": "Current.Import", "unit": "A"})
    assert comma is not None and comma.value == 7.25
    assert one({"value": "1234.50 W", "measurand": "Power.Active.Import"}) is None
    assert one({"value": "1e400", "measurand": "Power.Active.Import"}) is None


def test_a_sample_without_unit_takes_its_measurands_natural_unit() -> None:
    power = one({"value": "7200", "measurand": "Power.Active.Import"})
    assert power is not None and (power.value, power.unit) == (7200, "W")
    energy = one({"value": "5"})  # no measurand either: OCPP's default, the energy register
    assert energy is not None and (energy.measurand, energy.unit) == (rd.ENERGY_REGISTER, "Wh")
    factor = one({"value": "0.95", "measurand": "Power.Factor"})
    assert factor is not None and (factor.value, factor.unit) == (0.95, None)
    empty = one({"value": "3", "measurand": "Current.Import", "unitOfMeasure": {"unit": ""}},
                v16=False)
    assert empty is not None and empty.unit == "A"


def test_an_unknown_measurand_is_kept_among_the_readings_but_feeds_no_main_field() -> None:
    cp = ChargePointState("CP1", "CP1")
    connected(cp, "1.6", "192.0.2.1", T0)
    observe(cp, "1.6", "MeterValues", {"connectorId": 1, "meterValue": [{
        "timestamp": NOW, "sampledValue": [
            {"value": "1200", "measurand": "Fan.Speed", "unit": "RPM"},
            {"value": "3", "measurand": "Fan.Speed", "phase": "L1"},
            {"value": "11", "measurand": "Power.Active.Import", "unit": "kW"}]}]}, {}, NOW)
    c = cp.connectors[1]
    assert c.readings == {"Fan.Speed": 1200, "Fan.Speed.L1": 3, "Power.Active.Import": 11000}
    assert c.power_w == 11000 and c.energy_wh is None


def test_a_multiplier_that_makes_a_value_infinite_drops_it_whatever_its_unit() -> None:
    """Before shapes.py a value without a known unit was kept as inf (and published as null)."""
    for unit in ("RPM", None, "kW"):
        item: dict[str, Any] = {"value": 1e300, "measurand": "Power.Factor"}
        item["unitOfMeasure"] = {"multiplier": 30, **({"unit": unit} if unit else {})}
        assert one(item, v16=False) is None, unit
    scaled = one({"value": 1.5, "unitOfMeasure": {"unit": "kWh", "multiplier": 2}}, v16=False)
    assert scaled is not None and scaled.value == 150000


def test_a_multiplier_that_is_not_an_integer_is_ignored_even_after_an_integer_one() -> None:
    """True == 1 and 1.0 == 1 in a dict key: the shape of multiplier 1 must not be reused."""
    def read(multiplier: Any) -> float | None:
        found = one({"value": 2, "measurand": "Voltage",
                     "unitOfMeasure": {"unit": "V", "multiplier": multiplier}}, v16=False)
        return None if found is None else found.value
    assert read(1) == 20
    assert read(True) == 2 and read(1.0) == 2 and read("1") == 2
    assert read(31) is None and read(-31) is None


def test_fields_of_the_wrong_type_drop_the_sample_without_raising() -> None:
    assert one({"value": "1", "measurand": ["Voltage"]}) is None  # not even hashable
    assert one({"value": "1", "measurand": "Voltage", "phase": {"L1": 1}}) is None
    assert one({"value": "1", "measurand": "Voltage", "unit": 5}) is None
    assert one({"value": "1", "measurand": "Voltage", "location": 7}) is None
    assert one({"value": "1", "measurand": "not plain!"}) is None
    assert one({"value": "1", "measurand": "Voltage", "format": "SignedData"}) is None


def test_a_str_subclass_reads_as_its_text() -> None:
    class Text(str):
        pass
    found = one({"value": "230", "measurand": Text("Voltage"), "phase": Text("L1-N")})
    assert found is not None and (found.measurand, found.phase, found.unit) == (
        "Voltage", "L1-N", "V")


# ---- the caches ---------------------------------------------------------------------------------

def test_the_shape_of_a_sample_is_worked_out_once() -> None:
    item = {"value": "16", "measurand": "Current.Import", "phase": "L2", "unit": "A"}
    first, _ = shapes.read([item], True)
    second, _ = shapes.read([dict(item, value="17")], True)
    assert first[0] is second[0]
    assert first[0].key == "Current.Import.L2" and first[0].line == "L2"


def test_the_shape_cache_is_bounded_and_forgetting_changes_no_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shapes, "MAX_SHAPES", 50)
    monkeypatch.setattr(shapes, "_SHAPES", {})
    monkeypatch.setattr(shapes, "MAX_PLANS", 20)
    monkeypatch.setattr(shapes, "_PLANS", {})
    cp = ChargePointState("CP1", "CP1")
    for i in range(200):  # a charger inventing a measurand per message
        observe(cp, "1.6", "MeterValues", {"connectorId": 1, "meterValue": [{
            "timestamp": NOW, "sampledValue": [
                {"value": str(i), "measurand": f"Vendor.M{i}", "unit": "W"},
                {"value": "11", "measurand": "Power.Active.Import", "unit": "kW"}]}]}, {}, NOW)
        assert len(shapes._SHAPES) <= 50 and len(shapes._PLANS) <= 20
    c = cp.connectors[1]
    assert c.power_w == 11000 and len(c.readings) == 201
    assert all(c.readings[f"Vendor.M{i}"] == i for i in range(200))


def test_each_measurand_feeds_one_main_field_at_most() -> None:
    """shapes._shape gives a measurand the first field listing it: that is only the rule of
    main_values if no measurand is listed twice."""
    listed = [m for _field, measurands, _unit, _how in MAIN_FIELDS for m in measurands]
    assert len(listed) == len(set(listed))


# ---- round6 -------------------------------------------------------------------------------------

def test_round6_is_round_to_6_decimals_bit_for_bit() -> None:
    rng = random.Random("round6")
    values = [0.0, -0.0, 1.0, 230.4, 16.02, 0.1234567, 1e-7, -1e-7, 2.0**52 + 0.5, 2.0**53,
              4503599627370495.5, 1e15 + 0.3, 12345.678 * 1000, 1.234 * 1e3, float("inf"),
              float("-inf"), 1e308, 5e-324]
    for _ in range(100_000):
        digits = rng.randrange(0, 12)
        magnitude = 10.0 ** rng.randrange(-8, 16)
        base = float(f"{rng.uniform(-1, 1) * magnitude:.{digits}f}")
        values += [base, base * rng.choice((1e3, 1e-3, 1e6, 0.1)), base + rng.uniform(-1, 1)]
    for value in values:
        assert repr(round6(value)) == repr(round(value, 6)), value
    assert repr(round6(float("nan"))) == "nan"


# ---- scoped change detection --------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
def test_scoped_change_detection_finds_what_a_full_snapshot_finds(
        version: str, caplog: pytest.LogCaptureFixture) -> None:
    """observe() compares only the charge point's fields or the connectors its handler took;
    over a seeded fuzz of realistic and mutated payloads the ids it reports are exactly those
    a snapshot of the whole state before and after the message differs in."""
    rng = random.Random(f"changes-{version}")
    templates = TEMPLATES_16 if version == "1.6" else TEMPLATES_2X
    cp = ChargePointState("FUZZ", "FUZZ")
    connected(cp, version, "192.0.2.1", T0)
    reported = 0
    with caplog.at_level(logging.ERROR):
        for i in range(3000):
            action, request, response = rng.choice(templates)
            if i % 3:
                request, response = mutate(rng, request), mutate(rng, response)
            before = snapshot(cp)
            changed = observe(cp, version, action, request, response, NOW)
            assert changed == changes(before, cp), (action, request)
            reported += bool(changed)
    assert not caplog.records
    assert reported > 500, reported
