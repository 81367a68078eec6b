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
from math import isfinite
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
    kind = type(value)  # exact types first: what JSON gives, without the isinstance chain
    if kind is str:
        return _decimal_text(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is bool:
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= 2**1000 else None  # float() would raise
    if isinstance(value, float):
        out = float(value)
        return out if math.isfinite(out) else None
    return _decimal_text(value) if isinstance(value, str) else None


def _decimal_text(value: str) -> float | None:
    if len(value) > 64:
        return None
    text = value.strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        out = float(text)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (no offset is read as UTC), else None."""
    if not isinstance(text, str) or not 8 <= len(text) <= 64:
        return None
    return _parse_iso(text)


@lru_cache(maxsize=256)  # a transaction's start is read again with every reading taken in it
def _parse_iso(text: str) -> datetime | None:
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


def _name(raw: Any) -> str | Literal[False] | None:
    """An optional enum field: its name, None when absent or "", False when it is anything
    else (not text, or not a plain name). Reading such a sample with the defaults would file
    an L1 value as the total, or an odd measurand as the energy register: it is dropped."""
    if raw is None or raw == "":
        return None
    return raw if isinstance(raw, str) and _plain(raw) else False


@dataclass(slots=True, frozen=True, eq=False)
class Shape:
    """What every sampled value of one shape (measurand, phase, location, unit and multiplier
    as sent) shares, worked out once per shape (:func:`shape_of`): a charger sends the same ten
    or so shapes in every message, only the numbers change."""

    measurand: str
    phase: str | None
    location: str | None
    key: str  # reading_key()
    unit: str | None  # the normalised unit (None: unknown, kept as sent)
    convert_from: str | None  # the unit the value is in (after natural_unit), for normalise()
    scale: float | None  # 10.0 ** multiplier, applied first; None when there is none (or 0)
    factor: float | None  # the unit table's factor; None: normalise() converts (offsets, unknown)
    slot: int  # the index in MAIN_FIELDS of the main field it may feed, -1 for none
    score: int | None  # rank for that field on a connector (lower wins), None: does not feed it
    score_main_meter: int | None  # the same on connector 0
    line: str | None  # "L1".."L3" when the phase counts as that line (L1-N as L1)
    exact_line: bool  # the phase is the line itself (L1 beats L1-N)

    def value(self, raw: Any) -> float | None:
        """A sent value in this shape's normalised unit; None when it is not a usable number."""
        kind = type(raw)
        value = raw if kind is float else _decimal_text(raw) if kind is str else number(raw)
        if value is None:
            return None
        if self.scale is not None:
            value *= self.scale
        factor = self.factor
        if factor is None:
            converted = normalise(value, self.convert_from)
            return None if converted is None or not isfinite(converted[0]) else converted[0]
        if factor != 1.0:
            value *= factor
        if not isfinite(value):  # also a float sent as inf or nan
            return None
        # 1.234 kWh is 1234 Wh, not 1233.9999999999998; round() is costly and a whole number
        # is its own rounding
        return value if value.is_integer() else round(value, 6)


MAX_SHAPES = 4096  # distinct shapes remembered; a charger with validation off may invent more
_SHAPES: dict[tuple[str | None, str | None, str | None, str | None, int | None],
              Shape | None] = {}


def shape_of(measurand: Any, phase: Any, location: Any, unit: Any,
             multiplier: int | None) -> Shape | None:
    """The :class:`Shape` of a sampled value from its fields as sent (`multiplier` only when it
    is an integer), None when a sample of that shape is dropped: a name that is not plain text,
    a unit that is not text, a multiplier beyond ±30. Cached, at most MAX_SHAPES at a time."""
    exact = True
    for raw in (measurand, phase, location, unit):
        if raw is not None and type(raw) is not str:
            if not isinstance(raw, str):
                return None  # not text: dropped (and not cached: it may not be hashable)
            exact = False
    if not exact:  # a subclass of str (JSON makes none): not cached
        return _shape(_text(measurand), _text(phase), _text(location), _text(unit), multiplier)
    key = (measurand, phase, location, unit, multiplier)
    try:
        return _SHAPES[key]
    except KeyError:
        pass
    if len(_SHAPES) >= MAX_SHAPES:
        _SHAPES.clear()  # forget the lot: the shapes in use come back at their next sample
    found = _SHAPES[key] = _shape(measurand, phase, location, unit, multiplier)
    return found


def _text(raw: Any) -> str | None:
    return None if raw is None else str(raw)


def _shape(measurand_raw: str | None, phase_raw: str | None, location_raw: str | None,
           unit: str | None, multiplier: int | None) -> Shape | None:
    measurand, phase, location = _name(measurand_raw), _name(phase_raw), _name(location_raw)
    if measurand is False or phase is False or location is False:
        return None
    if multiplier is not None and not -30 <= multiplier <= 30:
        return None  # no meter is that far off: a broken payload
    measurand = measurand or ENERGY_REGISTER
    if unit is None or unit == "":
        unit = natural_unit(measurand)
    elif len(unit) > 32:
        return None
    normal = normalise(1.0, unit)
    assert normal is not None  # 1.0 in any unit is finite
    factor = None
    if unit is not None and unit.lower() != "fahrenheit" and unit != "K":
        factor = (_UNITS.get(unit) or _UNITS_ANY_CASE.get(unit.lower()) or (None,))[0]
    slot, score, score_main_meter = -1, None, None
    for index, (field, measurands, field_unit, _how) in enumerate(MAIN_FIELDS):
        if measurand in measurands and normal[1] == field_unit:
            preference = measurands.index(measurand) * 4  # before the location's rank (0-2)
            rank, rank_main_meter = (_location_rank(field, location, False),
                                     _location_rank(field, location, True))
            slot = index
            score = None if rank is None else preference + rank
            score_main_meter = None if rank_main_meter is None else preference + rank_main_meter
            break
    line = phase[:2] if phase in ("L1-N", "L2-N", "L3-N") else phase
    return Shape(measurand, phase, location, reading_key(measurand, phase, location), normal[1],
                 unit, 10.0 ** multiplier if multiplier else None, factor, slot, score,
                 score_main_meter, line if line in _LINES else None, phase == line)


def read(item: Any, v16: bool) -> tuple[Shape, float] | None:
    """One `sampledValue` as its shape and its normalised value, or None when it carries no
    usable number: 1.6 `format: SignedData` (the value is a signed blob), a value that is not a
    number, a field of the wrong type (see :func:`shape_of`)."""
    if not isinstance(item, dict):
        return None
    get = item.get
    multiplier: Any = None
    if v16:
        if get("format") == "SignedData":
            return None
        unit = get("unit")
    else:
        unit_of_measure = get("unitOfMeasure")
        unit = None
        if unit_of_measure is not None and isinstance(unit_of_measure, dict):
            unit, multiplier = unit_of_measure.get("unit"), unit_of_measure.get("multiplier")
            if multiplier is not None and type(multiplier) is not int:
                # a bool, a float, text...: no multiplier (True == 1 must not find 1's shape)
                multiplier = (int(multiplier) if isinstance(multiplier, int)
                              and not isinstance(multiplier, bool) else None)
    key = (get("measurand"), get("phase"), get("location"), unit, multiplier)
    try:  # the shapes in use are all cached: look them up before checking any field's type
        shape = _SHAPES[key]
    except (KeyError, TypeError):  # new, or not hashable (a list where a name should be)
        shape = shape_of(*key)
    if shape is None:
        return None
    value = shape.value(get("value"))
    return None if value is None else (shape, value)


def sample(item: Any, v16: bool) -> Sample | None:
    """One `sampledValue` as a :class:`Sample` (see :func:`read`)."""
    found = read(item, v16)
    if found is None:
        return None
    shape, value = found
    return Sample(shape.measurand, shape.phase, shape.location, value, shape.unit)


Reading = tuple[Shape, float]
Batch = list[tuple[str | None, list[Reading]]]


def batch(meter_values: Any, v16: bool) -> Batch:
    """The usable readings of each `meterValue` entry with its timestamp, oldest first (in the
    order sent when any timestamp cannot be read); entries without usable samples are dropped."""
    if not isinstance(meter_values, list):
        return []
    out: Batch = []
    for entry in meter_values:
        if not isinstance(entry, dict):
            continue
        items = entry.get("sampledValue")
        if not isinstance(items, list):
            continue
        readings = [found for item in items if (found := read(item, v16)) is not None]
        if readings:
            stamp = entry.get("timestamp")
            out.append((stamp if isinstance(stamp, str) else None, readings))
    if len(out) > 1:
        moments = [parse_time(stamp) for stamp, _ in out]
        known = [moment for moment in moments if moment is not None]
        if len(known) == len(out):
            order = sorted(range(len(out)), key=known.__getitem__)  # stable: ties keep order
            out = [out[i] for i in order]
    return out


def entries(meter_values: Any, v16: bool) -> list[tuple[str | None, list[Sample]]]:
    """:func:`batch` as :class:`Sample` objects."""
    return [(stamp, [Sample(shape.measurand, shape.phase, shape.location, value, shape.unit)
                     for shape, value in readings])
            for stamp, readings in batch(meter_values, v16)]


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


def main_values(readings: list[Reading], main_meter: bool) -> dict[str, float]:
    """The main figures (ConnectorState field -> value) of one reading set: energy and power
    are the total or else the sum of L1-L3 (L1-N counts as L1 when L1 is absent); current the
    total or else the highest phase; voltage and the others the total or else the first phase
    sent. A value in the wrong unit for its field (say energy in W) is left out. Of the
    readings that may feed a field, those of its preferred measurand and location (the lowest
    score of their shape) do."""
    best: dict[int, int] = {}
    chosen: dict[int, list[Reading]] = {}
    for reading in readings:
        shape = reading[0]
        score = shape.score_main_meter if main_meter else shape.score
        if score is None:
            continue
        slot = shape.slot
        held = best.get(slot)
        if held is None or score < held:
            best[slot], chosen[slot] = score, [reading]
        elif score == held:
            chosen[slot].append(reading)
    out: dict[str, float] = {}
    for slot, group in chosen.items():
        field, _measurands, _unit, how = MAIN_FIELDS[slot]
        value = _combine(group, how)
        if value is not None:
            out[field] = value
    return out


def _combine(readings: list[Reading], how: str) -> float | None:
    for shape, value in readings:
        if shape.phase is None:
            return value  # a total beats adding up phases
    if how == "first":
        return readings[0][1]
    lines: dict[str, float] = {}  # as combine_lines, on the lines worked out with the shape
    for shape, value in readings:
        line = shape.line
        if line is not None and (shape.exact_line or line not in lines):
            lines[line] = value
    if not lines:
        return None
    return round(sum(lines.values()), 6) if how == "sum" else max(lines.values())


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


def take(c: ConnectorState, batch: Batch, now: str, session: bool = True) -> None:
    """Every entry of :func:`batch`, oldest first, so the latest reading of each key wins.
    Readings taken in a transaction (when `session`) move its session energy and duration; the
    first energy register reading of a transaction whose start meter is unknown becomes it."""
    readings_of = c.readings
    main_meter = c.connector_id == 0
    for stamp, readings in batch:
        for shape, value in readings:
            key = shape.key
            if key in readings_of or len(readings_of) < MAX_READINGS:
                readings_of[key] = value
        values = main_values(readings, main_meter)
        for name, value in values.items():
            setattr(c, name, value)
        c.readings_at = stamp or now
        if session and c.transaction_id is not None:
            if c.meter_start_wh is None and "energy_wh" in values:
                c.meter_start_wh = values["energy_wh"]
            update_session(c, stamp or now)
