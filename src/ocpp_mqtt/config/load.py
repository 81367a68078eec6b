"""Loading the settings: the TOML file, another tool's variables (`compat`), then the model;
every problem becomes one `ConfigError` naming the key."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .settings import TOML_VALUES, Settings


class ConfigError(Exception):
    """A configuration problem, phrased as `key: what is wrong; what to do`."""


def load_settings(config_file: Path | None = None, **cli: Any) -> Settings:
    """Build the settings, turning every problem into one ConfigError naming the key."""
    TOML_VALUES.clear()
    if config_file is not None:
        try:
            with open(config_file, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"config: cannot read {config_file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {config_file} is not valid TOML: {exc}") from exc
        TOML_VALUES.update(data)
    compat = cli.get("compat") or os.environ.get("OCPP_MQTT_COMPAT") or TOML_VALUES.get("compat")
    if compat == "ocpp2mqtt":
        # Its variables count as a layer below the TOML file, our variables and flags.
        from ..northbound.ocpp2mqtt_env import settings_from_env

        try:
            derived = settings_from_env(os.environ)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        TOML_VALUES.update({k: v for k, v in derived.items() if k not in TOML_VALUES})
    try:
        return Settings(**{k: v for k, v in cli.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc
    finally:
        TOML_VALUES.clear()


def describe_validation_error(exc: ValidationError) -> str:
    messages = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown option; " + did_you_mean(key) + (
                "see `ocpp-mqtt serve --help`, README or examples/ocpp-mqtt.toml for the valid "
                "keys")
        messages.append(f"{key}: {msg}")
    return "; ".join(messages)


def did_you_mean(key: str) -> str:
    """`did you mean `listen`? ` for a misspelt option, or ''."""
    import difflib

    close = difflib.get_close_matches(key.lower().replace("-", "_"), Settings.model_fields, n=1)
    return f"did you mean `{close[0]}`? " if close else ""
