"""Arguments of commands as automations send them: key case, and values like "ON" or "16".

OCPP payloads are camelCase; MQTT users write snake_case (ocpp2mqtt's README does, at the top
level and nested). Both are accepted everywhere and turned into OCPP's names. The only OCPP keys
with an underscore are 2.1's per-phase ones (`limit_L2`, `setpoint_L3`, ...): their `_L2` suffix
is kept.
"""

from __future__ import annotations

import math
import re
from typing import Any

_PHASE_SUFFIX = re.compile(r"^(.*?)_[lL]([123])$")
_UPPER = re.compile(r"(?<!^)(?=[A-Z])")


class BadCommand(Exception):
    """The command cannot be sent as given; the message says why (an INVALID result)."""


def camel(key: str) -> str:
    """`connector_id` -> `connectorId`, `limit_l2` -> `limit_L2`; camelCase stays."""
    if "_" not in key:
        return key
    suffix = ""
    phase = _PHASE_SUFFIX.match(key)
    if phase:
        key, suffix = phase.group(1), "_L" + phase.group(2)
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest) + suffix


def snake(key: str) -> str:
    """`connectorId` -> `connector_id`; snake_case stays."""
    return _UPPER.sub("_", key).lower()


def camel_keys(value: Any) -> Any:
    """Every key of every object in `value`, at any depth, in OCPP's camelCase."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadCommand(f"key {key!r} is not a string")
            name = camel(key)
            if name in out:
                raise BadCommand(f"{name!r} is given twice (as {key!r} and in another case)")
            out[name] = camel_keys(item)
        return out
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


_TRUE = frozenset({"on", "true", "yes", "1", "enable", "enabled"})
_FALSE = frozenset({"off", "false", "no", "0", "disable", "disabled"})


def as_bool(value: Any, what: str) -> bool:
    """ON/OFF, true/false, yes/no, 1/0 in any case, as JSON booleans, numbers or strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise BadCommand(f"{what}: expected ON/OFF, true/false, yes/no or 1/0; got {value!r}")


def as_number(value: Any, what: str) -> float:
    """A finite number, also when sent as a string ("16", "7.5")."""
    if isinstance(value, bool) or value is None:
        raise BadCommand(f"{what}: expected a number; got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise BadCommand(f"{what}: expected a number; got {value!r}") from None
    else:
        raise BadCommand(f"{what}: expected a number; got {value!r}")
    if not math.isfinite(number):
        raise BadCommand(f"{what}: expected a finite number; got {value!r}")
    return number


def as_int(value: Any, what: str) -> int:
    number = as_number(value, what)
    if not number.is_integer():
        raise BadCommand(f"{what}: expected a whole number; got {value!r}")
    return int(number)


def as_text(value: Any, what: str) -> str:
    """A configuration value as OCPP carries it (a string): true/false, 60, 7.5, text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise BadCommand(f"{what}: expected a string, number or boolean; got {value!r}")


class Args:
    """The arguments of a high-level command, by snake_case name, with aliases and defaults.

    Unknown keys are refused, so a typo (`amp` for `amps`) says so instead of doing nothing.
    """

    CONNECTOR = ("connector", "connector_id", "evse", "evse_id")

    def __init__(self, command: str, args: dict[str, Any], allowed: tuple[str, ...],
                 connector: int | None = None) -> None:
        self.command = command
        self._values: dict[str, Any] = {}
        for key, value in args.items():
            name = snake(str(key))
            if name not in allowed:
                raise BadCommand(f"{command} takes no argument {key!r}; it takes "
                                 + ", ".join(a for a in allowed if a not in self.CONNECTOR[1:]))
            self._values[name] = value
        self._connector = connector  # from the topic (ocpp/set/{cid}/{n}/...)

    def get(self, *names: str) -> Any:
        """The first of `names` given (and not None), else None."""
        for name in names:
            value = self._values.get(name)
            if value is not None:
                return value
        return None

    def require(self, *names: str) -> Any:
        value = self.get(*names)
        if value is None:
            raise BadCommand(f"{self.command} needs `{names[0]}`")
        return value

    def connector(self, default: int, minimum: int = 0) -> int:
        value = self.get(*self.CONNECTOR)
        if value is None:
            value = default if self._connector is None else self._connector
        if isinstance(value, dict):  # a 2.x EVSEType {"id": n}
            value = value.get("id")
        number = as_int(value, "connector")
        if number < minimum:
            raise BadCommand(f"{self.command}: connector must be {minimum} or more; got {number}")
        return number

    def has_connector(self) -> bool:
        return self.get(*self.CONNECTOR) is not None or self._connector is not None
