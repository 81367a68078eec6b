"""Meter readings as a charge point sends them (1.6 and 2.x `meterValue`), parsed and
normalised: numbers, units, keys, and the main figures of one reading set. No I/O.

A sampled value becomes a :class:`Sample`: its measurand (OCPP's default
`Energy.Active.Import.Register` when absent), phase, location and a value converted to one unit
per quantity (Wh, W, varh, var, VAh, VA, A, V, °C, %, Hz). 2.x `unitOfMeasure.multiplier` scales
the value by 10^multiplier first. A sample whose unit we do not know keeps its value as sent and
gets unit None, so it appears among the readings but never in a main field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .shapes import Plan, Shape, plan_of, read
from .units import ENERGY_REGISTER as ENERGY_REGISTER
from .units import LINES, reading_key, round6
from .units import MAIN_FIELDS as MAIN_FIELDS
from .units import OUTLET as OUTLET
from .units import natural_unit as natural_unit
from .units import normalise as normalise
from .units import number as number

if TYPE_CHECKING:
    from .state import ConnectorState

MAX_READINGS = 256  # distinct reading keys kept per connector


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
    if type(start) is str and type(end) is str:
        return _seconds(start, end)
    return _seconds_uncached(start, end)


@lru_cache(maxsize=256)  # a message's readings and its transaction update ask the same twice
def _seconds(start: str, end: str) -> int | None:
    return _seconds_uncached(start, end)


def _seconds_uncached(start: Any, end: Any) -> int | None:
    begin, finish = parse_time(start), parse_time(end)
    if begin is None or finish is None:
        return None
    return max(0, int((finish - begin).total_seconds()))


def sample(item: Any, v16: bool) -> Sample | None:
    """One `sampledValue` as a :class:`Sample`, or None when it carries no usable number (see
    :func:`shapes.read`)."""
    shapes, values = read([item], v16)
    if not shapes:
        return None
    shape = shapes[0]
    return Sample(shape.measurand, shape.phase, shape.location, values[0], shape.unit)


# one `meterValue` entry: its timestamp, and the shape and value of each usable sample
Entry = tuple[str | None, tuple[Shape, ...], list[float]]


def batch(meter_values: Any, v16: bool) -> list[Entry]:
    """The usable samples of each `meterValue` entry with its timestamp, oldest first (in the
    order sent when any timestamp cannot be read); entries without usable samples are dropped."""
    if not isinstance(meter_values, list):
        return []
    out: list[Entry] = []
    for entry in meter_values:
        if not isinstance(entry, dict):
            continue
        items = entry.get("sampledValue")
        if not isinstance(items, list):
            continue
        shapes, values = read(items, v16)
        if shapes:
            stamp = entry.get("timestamp")
            out.append((stamp if isinstance(stamp, str) else None, tuple(shapes), values))
    if len(out) > 1:
        moments = [parse_time(entry[0]) for entry in out]
        known = [moment for moment in moments if moment is not None]
        if len(known) == len(out):
            order = sorted(range(len(out)), key=known.__getitem__)  # stable: ties keep order
            out = [out[i] for i in order]
    return out


def entries(meter_values: Any, v16: bool) -> list[tuple[str | None, list[Sample]]]:
    """:func:`batch` as :class:`Sample` objects."""
    return [(stamp, [Sample(shape.measurand, shape.phase, shape.location, value, shape.unit)
                     for shape, value in zip(shapes, values, strict=True)])
            for stamp, shapes, values in batch(meter_values, v16)]


def combine_lines(samples: list[Sample], how: str) -> float | None:
    """The sum ("sum") or the highest ("max") of the L1-L3 values (L1-N counts as L1 unless
    L1 itself was sent); None when no line value is among `samples`."""
    lines: dict[str, float] = {}
    for item in samples:
        line = item.phase[:2] if item.phase in ("L1-N", "L2-N", "L3-N") else item.phase
        if line in LINES and (line not in lines or item.phase == line):
            lines[line] = item.value
    if not lines:
        return None
    return round6(sum(lines.values())) if how == "sum" else max(lines.values())


def main_values(shapes: tuple[Shape, ...], values: list[float],
                main_meter: bool) -> dict[str, float]:
    """The main figures (ConnectorState field -> value) of one reading set (see
    :func:`shapes._plan`). A value in the wrong unit for its field (say energy in W) is left
    out."""
    return plan_of(shapes, main_meter).main_values(values)


# ---- taking readings into a connector's state ---------------------------------------------------

def update_session(c: ConnectorState, at: str) -> None:
    """Session energy (never negative) and duration as of `at`, the charge point's time."""
    if c.energy_wh is not None and c.meter_start_wh is not None:
        c.session_energy_wh = max(0.0, round6(c.energy_wh - c.meter_start_wh))
    seconds = seconds_between(c.session_started_at, at)
    if seconds is not None:
        c.session_seconds = seconds


def set_register(c: ConnectorState, wh: float) -> None:
    """The energy register read from a 1.6 meterStart/meterStop."""
    c.energy_wh = wh
    if ENERGY_REGISTER in c.readings or len(c.readings) < MAX_READINGS:
        c.readings[ENERGY_REGISTER] = wh


def take(c: ConnectorState, batch: list[Entry], now: str, session: bool = True) -> None:
    """Every entry of :func:`batch`, oldest first, so the latest reading of each key wins.
    Readings taken in a transaction (when `session`) move its session energy and duration; the
    first energy register reading of a transaction whose start meter is unknown becomes it."""
    readings = c.readings
    main_meter = c.connector_id == 0
    for stamp, shapes, values in batch:
        plan: Plan = plan_of(shapes, main_meter)
        if len(readings) + len(values) <= MAX_READINGS:  # every key fits, new or not
            readings.update(zip(plan.keys, values, strict=True))
        else:
            for key, value in zip(plan.keys, values, strict=True):
                if key in readings or len(readings) < MAX_READINGS:
                    readings[key] = value
        main = plan.main_values(values)
        for name, value in main.items():
            setattr(c, name, value)
        c.readings_at = stamp or now
        if session and c.transaction_id is not None:
            if c.meter_start_wh is None and "energy_wh" in main:
                c.meter_start_wh = main["energy_wh"]
            update_session(c, stamp or now)
