"""What the option areas share: their base class `Area`, and value checks several use
(HOST:PORT, MQTT topics, ${cid} levels, lists given as one string)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict


class Area(BaseModel):
    """One area's options: a mixin of `Settings`, never validated alone, so its own schema is
    not built (that took about 20 ms at import for the ten areas); Settings builds the whole."""

    model_config = ConfigDict(defer_build=True)


def whole_cid_level(template: str) -> bool:
    return re.fullmatch(r"(?:[^$+#]*/)?\$\{(?:cid|clientid)\}(?:/[^$+#]*)?", template) is not None


def parse_hostport(value: str, key: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT with a port 0-65535, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def check_hostport(value: str) -> str:
    """HOST:PORT, or '' where that means "none"."""
    if value:
        parse_hostport(value, "")
    return value


def check_topic(value: str) -> str:
    """A topic the gateway publishes to or subscribes to: no wildcards, not a broker's $ topic."""
    if "+" in value or "#" in value:
        raise ValueError(f"topic {value!r} must not contain the wildcards + or #")
    if value.startswith("$"):
        raise ValueError(f"topic {value!r} must not start with '$' (reserved for brokers)")
    return value


def split_list(value: Any) -> Any:
    """A list given as one string (environment, flag): a JSON list, or words separated by
    commas or spaces. Anything else goes on to the field's own validation."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list: {exc}") from exc
        return [v for v in value.replace(",", " ").split() if v]
    return value
