"""Meter readings as a charge point sends them (1.6 and 2.x `meterValue`), parsed and
normalised: numbers, units, keys, and the main figures of one reading set. No I/O.

A sampled value becomes a :class:`Sample`: its measurand (OCPP's default
`Energy.Active.Import.Register` when absent), phase, location and a value converted to one unit
per quantity (Wh, W, varh, var, VAh, VA, A, V, °C, %, Hz). 2.x `unitOfMeasure.multiplier` scales
the value by 10^multiplier first. A sample whose unit we do not know keeps its value as sent and
gets unit None, so it appears among the readings but never in a main field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .state import ConnectorState

ENERGY_REGISTER = "Energy.Active.Import.Register"
OUTLET = "Outlet"  # the default location, left out of reading keys
MAX_READINGS = 256  # distinct reading keys kept per connector

# unit as sent -> (factor, normalised unit); temperatures are converted apart (offsets)
_UNITS: dict[str, tuple[float, str]] = {
    "Wh": (1.0, "Wh"), "kWh": (1e3, "Wh"), "MWh": (1e6, "Wh"),
    "W": (1.0, "W"), "kW": (1e3, "W"), "MW": (1e6, "W"),
    "varh": (1.0, "varh"), "kvarh": (1e3, "varh"),
    "var": (1.0, "var"), "kvar": (1e3, "var"),
    "VAh": (1.0, "VAh"), "kVAh": (1e3, "VAh"),
    "VA": (1.0, "VA"), "kVA": (1e3, "VA"),
    "A": (1.0, "A"), "mA": (1e-3, "A"),
    "V": (1.0, "V"), "kV": (1e3, "V"),
    "Percent": (1.0, "%"), "%": (1.0, "%"),
    "Hz": (1.0, "Hz"), "Hertz": (1.0, "Hz"),
    "Celsius": (1.0, "°C"), "Celcius": (1.0, "°C"),  # 1.6 lists both spellings
}
# sloppy chargers send "kwh", "KW": accept any case where that is unambiguous, so not for mega
# (an "mW" is a milliwatt)
_UNITS_ANY_CASE = {name.lower(): scale for name, scale in _UNITS.items()
                   if not name.startswith("M")}
# the spelling that identifies a reading in keys and topics: restricts what a charge point
# with validation off can make a profile publish
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")


@dataclass(slots=True, frozen=True)
class Sample:
    measurand: str
    phase: str | None
    location: str | None
    value: float  # normalised to `unit`
    unit: str | None  # normalised unit; None when the unit sent is unknown

    @property
    def key(self) -> str:
        return reading_key(self.measurand, self.phase, self.location)


def reading_key(measurand: str, phase: str | None, location: str | None) -> str:
    """`<Measurand>[.<phase>][@<location>]`, the location left out when it is Outlet."""
    key = f"{measurand}.{phase}" if phase else measurand
    return f"{key}@{location}" if location and location != OUTLET else key


def number(value: Any) -> float | None:
    """A finite number from a 2.x number or a 1.6 decimal string (a decimal comma is read too:
    some firmware formats with the locale); None for anything else, booleans included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) > 2**1000:
        return None  # float() would raise
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str) and len(value) <= 64:
        text = value.strip()
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        try:
            out = float(text)
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (no offset is read as UTC), else None."""
    if not isinstance(text, str) or not 8 <= len(text) <= 64:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def seconds_between(start: Any, end: Any) -> int | None:
    """Whole seconds from `start` to `end` (ISO 8601 strings), never negative; None if either
    cannot be read."""
    begin, finish = parse_time(start), parse_time(end)
    if begin is None or finish is None:
        return None
    return max(0, int((finish - begin).total_seconds()))


def natural_unit(measurand: str) -> str | None:
    """The unit a value has when the charge point names none. OCPP's own default is Wh, which
    only makes sense for energy; a power or current sent without a unit is in W or A."""
    if measurand.startswith("Energy.Reactive"):
        return "varh"
    if measurand.startswith("Energy.Apparent"):
        return "VAh"
    if measurand.startswith("Energy"):  # also 2.1 EnergyRequest.*
        return "Wh"
    if measurand == "Power.Factor":
        return None
    if measurand.startswith("Power.Reactive"):
        return "var"
    if measurand.startswith("Power"):
        return "W"
    for prefix, unit in (("Current", "A"), ("Voltage", "V"), ("Frequency", "Hz"),
                         ("Temperature", "Celsius"), ("SoC", "Percent")):
        if measurand.startswith(prefix):
            return unit
    return "Percent" if measurand.startswith("Display.") and measurand.endswith("SOC") else None


def normalise(value: float, unit: str | None) -> tuple[float, str | None] | None:
    """`value` in `unit` converted to the unit this gateway uses for that quantity; the value as
    it is with unit None when the unit is unknown (or None); None if the result is not finite."""
    if unit is None:
        return value, None
    if unit.lower() == "fahrenheit":
        out, normal = (value - 32.0) * 5.0 / 9.0, "°C"
    elif unit == "K":
        out, normal = value - 273.15, "°C"
    else:
        scale = _UNITS.get(unit) or _UNITS_ANY_CASE.get(unit.lower())
        if scale is None:
            return value, None
        out, normal = value * scale[0], scale[1]
    if not math.isfinite(out):
        return None
    return round(out, 6), normal  # 1.234 kWh is 1234 Wh, not 1233.9999999999998


@lru_cache(maxsize=1024)
def _plain(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def _name(item: dict[str, Any], key: str) -> str | Literal[False] | None:
    """An optional enum field: its name, None when absent or "", False when it is anything
    else (not text, or not a plain name). Reading such a sample with the defaults would file
    an L1 value as the total, or an odd measurand as the energy register: it is dropped."""
    raw = item.get(key)
    if raw is None or raw == "":
        return None
    return raw if isinstance(raw, str) and _plain(raw) else False


def sample(item: Any, v16: bool) -> Sample | None:
    """One `sampledValue`, or None when it carries no usable number: 1.6 `format: SignedData`
    (the value is a signed blob), a value that is not a number, a field of the wrong type."""
    if not isinstance(item, dict):
        return None
    if v16 and item.get("format") == "SignedData":
        return None
    value = number(item.get("value"))
    if value is None:
        return None
    measurand, phase, location = (_name(item, "measurand"), _name(item, "phase"),
                                  _name(item, "location"))
    if measurand is False or phase is False or location is False:
        return None
    measurand = measurand or ENERGY_REGISTER
    unit: Any = item.get("unit")
    if not v16:
        unit_of_measure = item.get("unitOfMeasure")
        unit = None
        if isinstance(unit_of_measure, dict):
            unit = unit_of_measure.get("unit")
            multiplier = unit_of_measure.get("multiplier")
            if isinstance(multiplier, int) and not isinstance(multiplier, bool):
                if not -30 <= multiplier <= 30:  # no meter is that far off: a broken payload
                    return None
                value *= 10.0 ** multiplier
    if unit is None or unit == "":
        unit = natural_unit(measurand)
    elif not isinstance(unit, str) or len(unit) > 32:
        return None
    converted = normalise(value, unit)
    if converted is None:
        return None
    return Sample(measurand, phase, location, converted[0], converted[1])


def entries(meter_values: Any, v16: bool) -> list[tuple[str | None, list[Sample]]]:
    """The usable samples of each `meterValue` entry with its timestamp, oldest first (in the
    order sent when any timestamp cannot be read); entries without usable samples are dropped."""
    if not isinstance(meter_values, list):
        return []
    out: list[tuple[str | None, list[Sample]]] = []
    for entry in meter_values:
        if not isinstance(entry, dict) or not isinstance(entry.get("sampledValue"), list):
            continue
        samples = [s for s in (sample(item, v16) for item in entry["sampledValue"]) if s]
        if samples:
            stamp = entry.get("timestamp")
            out.append((stamp if isinstance(stamp, str) else None, samples))
    moments = [parse_time(stamp) for stamp, _ in out]
    known = [moment for moment in moments if moment is not None]
    if len(known) == len(out):
        order = sorted(range(len(out)), key=known.__getitem__)  # stable: ties keep their order
        out = [out[i] for i in order]
    return out


# field -> (measurands by preference, normalised unit, how phases combine)
MAIN_FIELDS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("energy_wh", (ENERGY_REGISTER,), "Wh", "sum"),
    ("power_w", ("Power.Active.Import",), "W", "sum"),
    ("current_a", ("Current.Import",), "A", "max"),
    ("voltage_v", ("Voltage",), "V", "first"),
    ("soc", ("SoC", "Display.PresentSOC"), "%", "first"),
    ("temperature_c", ("Temperature",), "°C", "first"),
    ("frequency_hz", ("Frequency",), "Hz", "first"),
    ("current_offered_a", ("Current.Offered", "Current.Import.Offered"), "A", "max"),
    ("power_offered_w", ("Power.Offered", "Power.Import.Offered"), "W", "sum"),
)
_LINES = ("L1", "L2", "L3")


def _location_rank(field: str, location: str | None, main_meter: bool) -> int | None:
    """How well a location suits a main field (lower is better), None if it does not.
    The figures of a connector are those at its outlet; the main meter (connector 0) measures
    the grid side, so its Inlet readings count too. The state of charge is measured in the EV
    and the temperature mostly in the charger's body, so those take any location."""
    if location is None or location == OUTLET:
        return 0
    if field == "soc":
        return 0
    if field == "temperature_c":
        return 1 if location == "Body" else 2
    return 1 if main_meter and location == "Inlet" else None


def _combine(samples: list[Sample], how: str) -> float | None:
    for item in samples:
        if item.phase is None:
            return item.value  # a total beats adding up phases
    if how == "first":
        return samples[0].value
    return combine_lines(samples, how)


def combine_lines(samples: list[Sample], how: str) -> float | None:
    """The sum ("sum") or the highest ("max") of the L1-L3 values (L1-N counts as L1 unless
    L1 itself was sent); None when no line value is among `samples`."""
    lines: dict[str, float] = {}
    for item in samples:
        line = item.phase[:2] if item.phase in ("L1-N", "L2-N", "L3-N") else item.phase
        if line in _LINES and (line not in lines or item.phase == line):
            lines[line] = item.value
    if not lines:
        return None
    return round(sum(lines.values()), 6) if how == "sum" else max(lines.values())


def main_values(samples: list[Sample], main_meter: bool) -> dict[str, float]:
    """The main figures (ConnectorState field -> value) of one reading set: energy and power
    are the total or else the sum of L1-L3 (L1-N counts as L1 when L1 is absent); current the
    total or else the highest phase; voltage and the others the total or else the first phase
    sent. A value in the wrong unit for its field (say energy in W) is left out."""
    out: dict[str, float] = {}
    for field, measurands, unit, how in MAIN_FIELDS:
        best: tuple[int, int] | None = None
        chosen: list[Sample] = []
        for item in samples:
            if item.unit != unit or item.measurand not in measurands:
                continue
            rank = _location_rank(field, item.location, main_meter)
            if rank is None:
                continue
            score = (measurands.index(item.measurand), rank)
            if best is None or score < best:
                best, chosen = score, [item]
            elif score == best:
                chosen.append(item)
        if chosen:
            value = _combine(chosen, how)
            if value is not None:
                out[field] = value
    return out


# ---- taking readings into a connector's state ---------------------------------------------------

def update_session(c: ConnectorState, at: str) -> None:
    """Session energy (never negative) and duration as of `at`, the charge point's time."""
    if c.energy_wh is not None and c.meter_start_wh is not None:
        c.session_energy_wh = max(0.0, round(c.energy_wh - c.meter_start_wh, 6))
    seconds = seconds_between(c.session_started_at, at)
    if seconds is not None:
        c.session_seconds = seconds


def set_register(c: ConnectorState, wh: float) -> None:
    """The energy register read from a 1.6 meterStart/meterStop."""
    c.energy_wh = wh
    if ENERGY_REGISTER in c.readings or len(c.readings) < MAX_READINGS:
        c.readings[ENERGY_REGISTER] = wh


def take(c: ConnectorState, batch: list[tuple[str | None, list[Sample]]], now: str,
         session: bool = True) -> None:
    """Every entry of :func:`entries`, oldest first, so the latest reading of each key wins.
    Readings taken in a transaction (when `session`) move its session energy and duration; the
    first energy register reading of a transaction whose start meter is unknown becomes it."""
    for stamp, samples in batch:
        for item in samples:
            key = item.key
            if key in c.readings or len(c.readings) < MAX_READINGS:
                c.readings[key] = item.value
        values = main_values(samples, main_meter=c.connector_id == 0)
        for name, value in values.items():
            setattr(c, name, value)
        c.readings_at = stamp or now
        if session and c.transaction_id is not None:
            if c.meter_start_wh is None and "energy_wh" in values:
                c.meter_start_wh = values["energy_wh"]
            update_session(c, stamp or now)
