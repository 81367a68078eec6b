"""Meter readings read per shape, not per sample: a charger sends the same ten or so sampled
values (measurand, phase, location, unit) in every message, only the numbers change, so what
they share is worked out once and cached. No I/O.

- :class:`Shape`: one sampled value's fields as sent (measurand, phase, location, unit,
  multiplier), read: the names checked, its reading key, how its value converts to the
  gateway's unit, and which main field it may feed and how well.
- :class:`Plan`: a whole reading set (the shapes of one `meterValue` entry, in order), read:
  its reading keys and, for each main field, which of its values make it and how (the value
  of a total, or the sum or the highest of L1-L3).

Both caches are bounded (MAX_SHAPES, MAX_PLANS) and forget everything when full: a charge point
with validation off may invent shapes without end, and the shapes in use come back with their
next sample. What they compute is exactly what units.py's rules give sample by sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isfinite
from typing import Any

from .units import (
    ENERGY_REGISTER,
    LINES,
    MAIN_FIELDS,
    decimal_text,
    location_rank,
    natural_unit,
    normalise,
    number,
    plain_name,
    reading_key,
    round6,
    unit_factor,
)

MAX_SHAPES = 4096
MAX_PLANS = 1024


@dataclass(slots=True, frozen=True, eq=False)
class Shape:
    measurand: str
    phase: str | None
    location: str | None
    key: str  # reading_key()
    unit: str | None  # the normalised unit (None: unknown, the value is kept as sent)
    convert_from: str | None  # the unit the value is in (natural_unit() when none was sent)
    scale: float | None  # 10.0 ** multiplier, applied first; None when there is none (or 0)
    factor: float | None  # unit_factor(); None: normalise() converts (offsets, unknown units)
    slot: int  # the index in MAIN_FIELDS of the main field it may feed, -1 for none
    score: int | None  # its rank for that field on a connector (lower wins), None: not usable
    score_main_meter: int | None  # the same on connector 0
    line: str | None  # "L1".."L3" when the phase counts as that line (L1-N as L1)
    exact_line: bool  # the phase is the line itself (L1 beats L1-N)


_SHAPES: dict[tuple[Any, ...], Shape | None] = {}


def shape_of(measurand: Any, phase: Any, location: Any, unit: Any,
             multiplier: int | None) -> Shape | None:
    """The :class:`Shape` of a sampled value from its fields as sent (`multiplier` only when it
    is an integer), None when a sample of that shape is dropped: a name that is not plain text,
    a unit that is not text, a multiplier beyond ±30."""
    exact = True
    for raw in (measurand, phase, location, unit):
        if raw is not None and type(raw) is not str:
            if not isinstance(raw, str):
                return None  # not text: dropped (and not cached: it may not be hashable)
            exact = False
    if not exact:  # a subclass of str (JSON makes none): not cached
        return _shape(_text(measurand), _text(phase), _text(location), _text(unit), multiplier)
    key = (measurand, phase, location, unit, multiplier)
    if key in _SHAPES:
        return _SHAPES[key]
    if len(_SHAPES) >= MAX_SHAPES:
        _SHAPES.clear()
    found = _SHAPES[key] = _shape(measurand, phase, location, unit, multiplier)
    return found


def _text(raw: Any) -> str | None:
    return None if raw is None else str(raw)


def _shape(measurand_raw: str | None, phase_raw: str | None, location_raw: str | None,
           unit: str | None, multiplier: int | None) -> Shape | None:
    measurand, phase = plain_name(measurand_raw), plain_name(phase_raw)
    location = plain_name(location_raw)
    if measurand is False or phase is False or location is False:
        return None  # read with the defaults it would file an L1 value as the total...
    if multiplier is not None and not -30 <= multiplier <= 30:
        return None  # no meter is that far off: a broken payload
    measurand = measurand or ENERGY_REGISTER
    if unit is None or unit == "":
        unit = natural_unit(measurand)
    elif len(unit) > 32:
        return None
    normal = normalise(1.0, unit)
    assert normal is not None  # 1.0 in any unit is finite
    slot, score, score_main_meter = -1, None, None
    for index, (field, measurands, field_unit, _how) in enumerate(MAIN_FIELDS):
        if measurand in measurands:  # each measurand feeds one field at most
            if normal[1] == field_unit:  # not energy sent in W
                preference = measurands.index(measurand) * 4  # before the location's rank
                rank = location_rank(field, location, False)
                rank_main_meter = location_rank(field, location, True)
                slot = index
                score = None if rank is None else preference + rank
                score_main_meter = (None if rank_main_meter is None
                                    else preference + rank_main_meter)
            break
    line = phase[:2] if phase in ("L1-N", "L2-N", "L3-N") else phase
    return Shape(measurand, phase, location, reading_key(measurand, phase, location), normal[1],
                 unit, 10.0 ** multiplier if multiplier else None, unit_factor(unit), slot,
                 score, score_main_meter, line if line in LINES else None, phase == line)


def read(items: list[Any], v16: bool) -> tuple[list[Shape], list[float]]:
    """The usable `sampledValue`s of a list as their shapes and their values in the shapes'
    normalised units. A sample carries no usable number, and is left out, when it is not an
    object, is 1.6 `format: SignedData` (the value is a signed blob), has a value that is not
    a finite number or a field of the wrong type (see :func:`shape_of`). One loop for the
    list: this runs for every sample of every message."""
    shapes: list[Shape] = []
    values: list[float] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        get = item.get
        multiplier: Any = None
        if v16:
            if get("format") == "SignedData":
                continue
            unit = get("unit")
        else:
            unit_of_measure = get("unitOfMeasure")
            unit = None
            if unit_of_measure is not None and isinstance(unit_of_measure, dict):
                unit, multiplier = unit_of_measure.get("unit"), unit_of_measure.get("multiplier")
                if multiplier is not None and type(multiplier) is not int:
                    # a bool, a float, text: no multiplier (and True == 1 must not find 1's shape)
                    multiplier = (int(multiplier) if isinstance(multiplier, int)
                                  and not isinstance(multiplier, bool) else None)
        key = (get("measurand"), get("phase"), get("location"), unit, multiplier)
        try:  # the shapes in use are all cached: look them up before checking any type
            shape = _SHAPES[key]
        except (KeyError, TypeError):  # new, or not hashable (a list where a name should be)
            shape = shape_of(*key)
        if shape is None:
            continue
        raw: Any = get("value")
        kind = type(raw)
        if kind is float:
            value = raw
        elif kind is str:
            if len(raw) <= 64 and "," not in raw:  # decimal_text() without the comma case
                try:
                    value = float(raw)  # strips the same white space as str.strip()
                except ValueError:
                    continue
            else:
                value = decimal_text(raw)
        elif kind is int and -_HUGE <= raw <= _HUGE:
            value = float(raw)
        else:
            value = number(raw)
        if value is None:
            continue
        if shape.scale is not None:
            value *= shape.scale
        factor = shape.factor
        if factor is None:
            converted = normalise(value, shape.convert_from)
            if converted is None or not isfinite(converted[0]):
                continue
            value = converted[0]
        else:
            if factor != 1.0:
                value *= factor
            if not isfinite(value):  # also a number sent as inf or nan
                continue
            if not value.is_integer():  # a whole number is its own rounding
                value = round6(value)  # 1.234 kWh is 1234 Wh, not 1233.9999999999998
        shapes.append(shape)
        values.append(value)
    return shapes, values


_HUGE = 2**1000  # number()'s bound for integers (float() raises past 2**1024)


@dataclass(slots=True, frozen=True, eq=False)
class Plan:
    keys: tuple[str, ...]  # the reading key of each value
    # main field -> how its value is made ("one", "sum" or "max") from the values at indices
    fields: tuple[tuple[str, str, tuple[int, ...]], ...]

    def main_values(self, values: list[float]) -> dict[str, float]:
        """The main figures (ConnectorState field -> value) of a reading set of this plan."""
        out: dict[str, float] = {}
        for field, how, indices in self.fields:
            if how == "one":
                out[field] = values[indices[0]]
            elif how == "sum":
                out[field] = round6(sum([values[i] for i in indices]))
            else:
                out[field] = max([values[i] for i in indices])
        return out


_PLANS: dict[tuple[bool, tuple[Shape, ...]], Plan] = {}


def plan_of(shapes: tuple[Shape, ...], main_meter: bool) -> Plan:
    """The :class:`Plan` of a reading set, on connector 0 (the main meter) or another."""
    key = (main_meter, shapes)
    found = _PLANS.get(key)
    if found is None:
        if len(_PLANS) >= MAX_PLANS:
            _PLANS.clear()
        found = _PLANS[key] = _plan(shapes, main_meter)
    return found


def _plan(shapes: tuple[Shape, ...], main_meter: bool) -> Plan:
    """Energy and power are the total or else the sum of L1-L3 (L1-N counts as L1 when L1 is
    absent); current the total or else the highest phase; voltage and the others the total or
    else the first phase sent. Of the values that may feed a field, those of its preferred
    measurand and location (the lowest score) do."""
    best: dict[int, int] = {}
    chosen: dict[int, list[int]] = {}
    for index, shape in enumerate(shapes):
        score = shape.score_main_meter if main_meter else shape.score
        if score is None:
            continue
        held = best.get(shape.slot)
        if held is None or score < held:
            best[shape.slot], chosen[shape.slot] = score, [index]
        elif score == held:
            chosen[shape.slot].append(index)
    fields: list[tuple[str, str, tuple[int, ...]]] = []
    for slot, indices in sorted(chosen.items()):
        field, _measurands, _unit, how = MAIN_FIELDS[slot]
        total = next((i for i in indices if shapes[i].phase is None), None)
        if total is not None:  # a total beats adding up phases
            fields.append((field, "one", (total,)))
        elif how == "first":
            fields.append((field, "one", (indices[0],)))
        else:
            lines: dict[str, int] = {}
            for i in indices:
                line = shapes[i].line
                if line is not None and (shapes[i].exact_line or line not in lines):
                    lines[line] = i
            if lines:
                fields.append((field, how, tuple(lines.values())))
    return Plan(tuple(shape.key for shape in shapes), tuple(fields))
