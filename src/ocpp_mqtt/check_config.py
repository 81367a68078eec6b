"""`ocpp-mqtt check-config`: load the settings exactly as `serve` does (TOML file, environment,
flags) and say `ok` with a summary of the effective configuration, or list every problem with
where the value came from, the value, what is wrong and how to fix it. Secrets never appear."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError

from .config import ConfigError, Settings, did_you_mean, load_settings
from .listeners import ListenerSpec

EXIT_OK = 0
EXIT_CONFIG = 2
ENV_PREFIX = "OCPP_MQTT_"

_SECRET_FIELD = re.compile(r"token|password|secret|passwd", re.IGNORECASE)
# URLs whose user name is itself the secret (ThingsBoard access tokens).
_TOKEN_AS_USER = ("thingsboard_url",)
_TOML_POSITION = re.compile(r"at line (\d+), column (\d+)")

# Pydantic's message says what is wrong; this says what to write instead, where it does not.
_FIXES = {
    "int_parsing": "give a whole number",
    "int_from_float": "give a whole number",
    "float_parsing": "give a number",
    "bool_parsing": "give true or false",
    "string_type": "give a quoted string",
    "list_type": "give a list, e.g. [\"a\", \"b\"] (or a comma-separated string)",
    "dict_type": "give a table, e.g. {Key = \"value\"} (JSON on the command line)",
}


def mask(name: str, value: Any) -> Any:
    """A value as it may be shown: secrets replaced by ***, URLs without their password."""
    if isinstance(value, SecretStr):
        return "***" if value.get_secret_value() else ""
    if value in (None, ""):
        return value
    if _SECRET_FIELD.search(name):
        return "***"
    if isinstance(value, dict):  # e.g. upstream_auth: identity -> {username, password}
        return {key: mask(str(key), item) for key, item in value.items()}
    if isinstance(value, str) and "://" in value and "@" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            return "***"
        if parts.username is not None or parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            if name in _TOKEN_AS_USER:
                user = "***"
            else:
                user = (parts.username or "") + (":***" if parts.password is not None else "")
            return value.replace(parts.netloc, f"{user}@{host}", 1)
    return value


def _show(name: str, value: Any) -> str:
    if name == "listeners" and isinstance(value, list) and all(
            isinstance(spec, ListenerSpec) for spec in value):
        # the tables as written, without the defaults of each key (a rejected value, which is
        # the raw input, is shown as given)
        return str([spec.model_dump(mode="json", exclude_defaults=True) for spec in value])
    shown = mask(name, value)
    if isinstance(shown, Path):
        shown = str(shown)
    return repr(shown) if isinstance(shown, str) else str(shown)


class Sources:
    """Where each key's value came from: a flag, a variable or a line of the file."""

    def __init__(self, config_file: Path | None, cli: dict[str, Any]) -> None:
        self.config_file = config_file
        self.cli = cli
        self.env = {k.upper(): v for k, v in os.environ.items()}
        self.lines: list[str] = []
        self.compat: set[str] = set()  # keys set from another tool's variables (--compat)
        compat = cli.get("compat") or self.env.get(ENV_PREFIX + "COMPAT")
        if compat == "ocpp2mqtt":
            from .northbound.ocpp2mqtt_env import settings_from_env

            quiet = logging.getLogger("ocpp_mqtt.config")
            quiet.disabled = True  # its warnings come once, from load_settings
            try:
                self.compat = set(settings_from_env(os.environ))
            except ValueError:  # load_settings reports it
                pass
            finally:
                quiet.disabled = False
        if config_file is not None:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                self.lines = config_file.read_text(encoding="utf-8").splitlines()

    def toml_line(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
        table = re.compile(rf"^\s*\[\s*{re.escape(key)}\s*\]")
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line) or table.match(line):
                return number
        return None

    def of(self, key: str) -> str:
        if key in self.cli:
            return "--" + key.replace("_", "-")
        if ENV_PREFIX + key.upper() in self.env:
            return ENV_PREFIX + key.upper()
        line = self.toml_line(key)
        if line is not None:
            return f"{self.config_file}:{line}"
        if key in self.compat:
            return "ocpp2mqtt variables"
        if self.config_file is not None and key not in Settings.model_fields:
            return str(self.config_file)  # e.g. a key inside a table
        return "default"


def _issue_lines(exc: ValidationError, sources: Sources) -> list[str]:
    """One line per problem, in the order a user fixes them: the file's from top to bottom,
    then the environment's, the flags', and the checks across options."""
    return sorted(_issues(exc, sources), key=lambda line: _reading_order(line, sources))


def _reading_order(line: str, sources: Sources) -> tuple[int, int]:
    where = line.split(": ", 1)[0]
    if sources.config_file is not None and where.startswith(f"{sources.config_file}:"):
        number = where.removeprefix(f"{sources.config_file}:")
        return (0, int(number)) if number.isdigit() else (0, 0)
    if where == str(sources.config_file):
        return (0, 0)
    if where.startswith(ENV_PREFIX):
        return (1, 0)
    if where.startswith("--"):
        return (2, 0)
    return (3, 0)


def _issues(exc: ValidationError, sources: Sources) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = loc[0] if loc else ""
        if not key:  # a check across several options: its message names them
            lines.append(f"(several options): {err['msg'].removeprefix('Value error, ')}")
            continue
        where = sources.of(key)
        shown = f"{'.'.join(loc)} = {_show(key, err.get('input'))}"
        if err["type"] == "extra_forbidden":
            hint = did_you_mean(key)
            lines.append(f"{where}: {'.'.join(loc)}: unknown option; {hint or ''}"
                         "every option is listed in README.md and examples/ocpp-mqtt.toml")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(err["type"])
        lines.append(f"{where}: {shown}: {msg}" + (f"; {fix}" if fix else ""))
    return lines


def _toml_excerpt(message: str, sources: Sources) -> list[str]:
    """The offending line of a TOML syntax error, with a caret under the column."""
    found = _TOML_POSITION.search(message)
    if not found or not sources.lines:
        return []
    line, column = int(found.group(1)), int(found.group(2))
    if not 1 <= line <= len(sources.lines):
        return []
    return [f"  {line:4} | {sources.lines[line - 1]}", f"       | {' ' * (column - 1)}^"]


def unknown_variables() -> list[str]:
    """OCPP_MQTT_* variables that name no option (serve ignores them too)."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(name for name in os.environ
                  if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)


def startup_problems(settings: Settings) -> tuple[list[str], list[str]]:
    """What `serve` would stop on at start-up beyond the values themselves (files it opens),
    checked without opening a socket or creating anything; and settings that have no effect."""
    errors: list[str] = []
    warnings: list[str] = []
    target = settings.mqtt_target
    tls_files = [n for n in ("mqtt_ca", "mqtt_cert", "mqtt_key") if getattr(settings, n)]
    if target.tls:
        import ssl

        from .northbound.client import tls_context

        try:
            tls_context(*(str(getattr(settings, n)) if getattr(settings, n) else None
                          for n in ("mqtt_ca", "mqtt_cert", "mqtt_key")))
        except (OSError, ssl.SSLError) as exc:
            keys = "/".join(tls_files) or "mqtt_ca"
            errors.append(f"{keys}: the TLS files cannot be loaded: {exc}; give readable PEM "
                          "files (CA bundle, certificate, its key)")
    elif tls_files:
        warnings.append(f"{', '.join(tls_files)} set but mqtt is not mqtts://: ignored")
    if settings.mode == "central":
        directory = settings.store.resolve().parent
        if not directory.is_dir():
            errors.append(f"store: directory {directory} does not exist; create it or choose "
                          "another --store")
        elif not os.access(directory, os.W_OK):
            errors.append(f"store: directory {directory} is not writable; fix its permissions "
                          "or choose another --store")
    errors += _listener_problems(settings)
    if settings.frame_log_file not in ("", "-"):
        path = Path(settings.frame_log_file)
        existing = path if path.exists() else next(p for p in path.parents if p.exists())
        if not os.access(existing, os.W_OK):
            errors.append(f"frame_log_file: {existing} is not writable; choose another place")
    return errors, warnings


def _listener_problems(settings: Settings) -> list[str]:
    """Certificates and keys that do not load (or do not match), and a credentials store
    that cannot be created: what `serve` would stop on."""
    from .transport.tls import TlsError, build_context

    problems = []
    for spec in settings.endpoints:
        if spec.tls:
            try:
                build_context(spec)
            except TlsError as exc:
                problems.append(f"listeners: {exc}")
    if settings.credentials_topic or any(s.profile in (1, 2) for s in settings.endpoints):
        directory = settings.credentials_store.resolve().parent
        if not directory.is_dir() or not os.access(directory, os.W_OK):
            problems.append(f"credentials_store: directory {directory} does not exist or is "
                            "not writable; create it or choose another --credentials-store")
    return problems


def summary(settings: Settings, sources: Sources) -> list[str]:
    target = settings.mqtt_target
    broker = target.describe() if target.embedded else (
        f"{target.describe()} (MQTT {settings.mqtt_version})")
    lines = [
        f"mode:          {settings.mode} (profiles: {', '.join(settings.active_profiles)})",
        "charge points: " + ", ".join(
            f"{spec.scheme}://{spec.address}/<path>/<identity> (profile {spec.profile})"
            for spec in settings.endpoints) + f" (OCPP {', '.join(settings.versions)})",
        f"mqtt:          {broker}, prefix {settings.prefix!r}, gateway_id "
        f"{settings.gateway_id!r}",
        f"logs:          {settings.log_level}, {settings.log_format}"
        + (f", {settings.log_levels}" if settings.log_levels else "")
        + (f"; frames of {', '.join(settings.frame_log)} to "
           f"{settings.frame_log_file or 'stderr'}" if settings.frame_log else ""),
    ]
    if settings.mode == "central":
        lines.append(f"store:         {settings.store}")
    changed = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if name == "gateway_id" or (not field.is_required()
                                    and value == field.get_default(call_default_factory=True)):
            continue
        changed.append(f"  {name} = {_show(name, value)}  ({sources.of(name)})")
    if changed:
        lines.append("changed from the defaults:")
        lines.extend(changed)
    else:
        lines.append("every option at its default")
    return lines


def run(config_file: Path | None, cli: dict[str, Any], out: IO[str] | None = None,
        err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    sources = Sources(config_file, cli)
    unknown = unknown_variables()
    try:
        settings = load_settings(config_file, **cli)
    except ConfigError as exc:
        cause = exc.__cause__
        if isinstance(cause, ValidationError):
            lines = _issue_lines(cause, sources)
        else:
            lines = [str(exc), *_toml_excerpt(str(exc), sources)]
        where = f" in {config_file}" if config_file else ""
        count = len(cause.errors()) if isinstance(cause, ValidationError) else 1
        print(f"ocpp-mqtt: {count} config error{'s' if count > 1 else ''}{where} "
              "(the gateway would not start):", file=err)
        for line in lines:
            print("  " + line if not line.startswith("  ") else line, file=err)
        for name in unknown:
            print(f"  warning: {name} names no option and is ignored; "
                  f"{did_you_mean(name[len(ENV_PREFIX):])}", file=err)
        return EXIT_CONFIG
    errors, warnings = startup_problems(settings)
    warnings += [f"{name} names no option and is ignored; "
                 f"{did_you_mean(name[len(ENV_PREFIX):])}".rstrip("; ") for name in unknown]
    if errors:
        count = len(errors)
        print(f"ocpp-mqtt: {count} config error{'s' if count > 1 else ''} "
              "(the gateway would not start):", file=err)
        for line in errors:
            print("  " + line, file=err)
        for line in warnings:
            print("  warning: " + line, file=err)
        return EXIT_CONFIG
    print("ok" + (f": {config_file}" if config_file else ""), file=out)
    for line in summary(settings, sources):
        print(line, file=out)
    for line in warnings:
        print("warning: " + line, file=err)
    return EXIT_OK
