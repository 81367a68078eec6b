"""`ocpp-mqtt serve`: every settings field is a flag (`call_timeout` -> `--call-timeout`).
`ocpp-mqtt simulate`: simulated charge points for any OCPP-J central system."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__
from .config import ConfigError, Settings, load_settings

EXIT_CONFIG = 2


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _is_bool(annotation: Any) -> bool:
    return annotation is bool


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        help_text = field.description or ""
        default = field.get_default(call_default_factory=False)
        if default is not None and not callable(default):
            help_text += f" (default: {default})"
        if _is_bool(annotation):
            parser.add_argument(_flag(name), dest=name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
            continue
        origin = typing.get_origin(annotation)
        if origin in (dict, list):
            help_text += " (JSON or, for lists, comma-separated)"
        elif origin in (typing.Union, types.UnionType):
            pass
        parser.add_argument(_flag(name), dest=name, default=None, metavar=name.upper(),
                            help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocpp-mqtt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ocpp-mqtt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway",
                           description="Run the gateway. Every flag is also a TOML key in "
                           "--config and an environment variable OCPP_MQTT_<NAME>.")
    serve.add_argument("--config", type=Path, default=None, help="TOML file with settings")
    _add_settings_flags(serve)
    check = sub.add_parser(
        "check-config", help="validate the configuration and show the effective settings",
        description="Load the settings exactly as `serve` would (--config FILE, OCPP_MQTT_* "
        "variables, flags); print `ok` and a summary (secrets masked) and exit 0, or list "
        "every problem and exit 2.")
    check.add_argument("--config", type=Path, default=None, help="TOML file with settings")
    _add_settings_flags(check)
    from .simulate.options import add_arguments

    simulate = sub.add_parser(
        "simulate", help="simulated charge points for any OCPP-J central system",
        description="Run N simulated OCPP 1.6 / 2.0.1 / 2.1 charge points against a central "
        "system (the local gateway by default): boot, heartbeats, status, authorize, "
        "transactions with meter values per phase, answers to remote commands, reconnects. "
        "Prints a live progress line and a summary.")
    add_arguments(simulate)
    from .credentials_cli import add_parser

    add_parser(sub)
    return parser


def _cli_values(args: argparse.Namespace) -> dict[str, Any]:
    import orjson

    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if typing.get_origin(field.annotation) is dict and isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"{name}: expected a JSON object: {exc}") from exc
        values[name] = value
    return values


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "credentials":
        from .credentials_cli import run as credentials

        return credentials(args)
    if args.command == "check-config":
        from .check_config import run

        try:
            cli = _cli_values(args)
        except ConfigError as exc:
            print(f"ocpp-mqtt: config error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        return run(args.config, cli)
    if args.command == "simulate":
        from .simulate.runner import main as simulate

        return simulate(args)
    try:
        settings = load_settings(args.config, **_cli_values(args))
    except ConfigError as exc:
        print(f"ocpp-mqtt: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from .logs import setup_logging

    setup_logging(settings.log_level, settings.log_format, settings.log_levels)
    return _run(settings)


def _run(settings: Settings) -> int:
    if settings.workers > 1:
        from .workers import supervise

        return supervise(settings)
    return run_gateway(settings)


def run_gateway(settings: Settings, on_ready: Callable[[str], None] | None = None) -> int:
    """One gateway process until SIGINT/SIGTERM: 0, or 2 for a configuration problem."""
    from .gateway import serve

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            # gmqtt's reconnect task, cancelled when the loop closes after the broker went away
            # first, reports its cancellation through a done-callback: not an error at exit.
            if stop.is_set() and isinstance(context.get("exception"), asyncio.CancelledError):
                return
            loop.default_exception_handler(context)

        loop.set_exception_handler(on_loop_error)
        try:
            await serve(settings, stop, on_ready)
        except ConfigError as exc:
            print(f"ocpp-mqtt: config error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        return 0

    try:
        import uvloop

        return int(uvloop.run(runner()))
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run(runner())
