"""The vocabulary of meter readings, with no state: numbers as charge points write them, units
and their conversion to the one unit per quantity this gateway uses, the names that may
identify a reading, reading keys, and the main fields of a connector (which measurands feed
them, from which locations, how phases combine). readings.py and shapes.py apply it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from math import isfinite
from typing import Any, Literal

ENERGY_REGISTER = "Energy.Active.Import.Register"
OUTLET = "Outlet"  # the default location, left out of reading keys

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


def reading_key(measurand: str, phase: str | None, location: str | None) -> str:
    """`<Measurand>[.<phase>][@<location>]`, the location left out when it is Outlet."""
    key = f"{measurand}.{phase}" if phase else measurand
    return f"{key}@{location}" if location and location != OUTLET else key


def number(value: Any) -> float | None:
    """A finite number from a 2.x number or a 1.6 decimal string (a decimal comma is read too:
    some firmware formats with the locale); None for anything else, booleans included."""
    kind = type(value)  # exact types first: what JSON gives, without the isinstance chain
    if kind is str:
        return decimal_text(value)
    if kind is float:
        return value if isfinite(value) else None
    if kind is bool:
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= _HUGE else None  # float() would raise
    if isinstance(value, float):
        out = float(value)
        return out if isfinite(out) else None
    return decimal_text(value) if isinstance(value, str) else None


_HUGE = 2**1000  # a constant: the compiler does not fold a power that large


def decimal_text(value: str) -> float | None:
    """A 1.6 decimal string (see :func:`number`) as a finite number, else None."""
    if len(value) > 64:
        return None
    text = value.strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        out = float(text)
    except ValueError:
        return None
    return out if isfinite(out) else None


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
    if not isfinite(out):
        return None
    return round6(out), normal  # 1.234 kWh is 1234 Wh, not 1233.9999999999998


def round6(value: float) -> float:
    """`round(value, 6)`, without calling it where it changes nothing: round() converts to
    decimal and back (~3 times the cost of the rest of a sample's reading), and most readings
    are whole numbers or have at most 6 decimals. Exact: if `k / 1e6 == value` for the integer
    k nearest to `value * 1e6`, `value` is the double nearest to a number with at most 6
    decimals, and rounding such a double to 6 decimals gives it back."""
    if value.is_integer():  # False for inf and nan
        return value
    if isfinite(value) and round(value * 1e6) / 1e6 == value:  # not integer: |value| < 2**52
        return value
    return round(value, 6)


def unit_factor(unit: str | None) -> float | None:
    """The factor :func:`normalise` multiplies a value in `unit` by, or None when it does
    something else (no unit, an unknown one, a temperature with an offset)."""
    if unit is None or unit.lower() == "fahrenheit" or unit == "K":
        return None
    scale = _UNITS.get(unit) or _UNITS_ANY_CASE.get(unit.lower())
    return None if scale is None else scale[0]


@lru_cache(maxsize=1024)
def _plain(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def plain_name(raw: Any) -> str | Literal[False] | None:
    """An optional enum field: its name, None when absent or "", False when it is anything
    else (not text, or not a plain name). Reading such a sample with the defaults would file
    an L1 value as the total, or an odd measurand as the energy register: it is dropped."""
    if raw is None or raw == "":
        return None
    return raw if isinstance(raw, str) and _plain(raw) else False


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
LINES = ("L1", "L2", "L3")


def location_rank(field: str, location: str | None, main_meter: bool) -> int | None:
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
