"""Commands to a charge point: OCPP actions by name, and high-level commands.

`run_command` resolves a name in this order: a high-level command (`start_charging`, ...; see
COMMANDS), an OCPP action of the charge point's version as spelled by OCPP
(`RemoteStartTransaction`), the same in any case with or without underscores
(`remote_start_transaction`), and ocpp2mqtt's alias `get_local_version` (GetLocalListVersion).
`reset`, `get_configuration` and `change_configuration` are both high-level commands and
snake_case OCPP names: the high-level command takes OCPP's arguments too (`type: "Soft"`,
`key: [...]`), so ocpp2mqtt's commands keep working.

A high-level command turns into the right OCPP call for 1.6 or 2.x; an OCPP action is sent with
its arguments as its payload (keys turned into camelCase). Nothing here does I/O: the one CALL
goes through the injected `call`, which sends it, validates it against the schema and returns
the outcome. A bad command never raises: its result is INVALID with the reason.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...config import Settings
from ...ocppj.actions import sent_by_central_system
from ...ocppj.validation import Schemas
from ...ocppj.versions import Version
from .command_args import Args, BadCommand, as_bool, as_int, as_number, as_text, camel_keys
from .limits import Call, Limits
from .profile import ANSWERED, INVALID, OFFLINE, QUEUE_FULL, CommandResult
from .state import ChargePointState

__all__ = ["COMMANDS", "Call", "Limits", "resolve", "run_command"]

# ocpp2mqtt's names that are not the snake_case of an OCPP action
ALIASES = {"get_local_version": "GetLocalListVersion", "charging_enabled": "set_charging_enabled"}

# An action of the other OCPP generation -> (high-level command, this generation's action)
_EQUIVALENT = {
    "RemoteStartTransaction": ("start_charging", "RequestStartTransaction"),
    "RemoteStopTransaction": ("stop_charging", "RequestStopTransaction"),
    "GetConfiguration": ("get_configuration", "GetVariables"),
    "ChangeConfiguration": ("change_configuration", "SetVariables"),
    "GetDiagnostics": ("", "GetLog"),
    "RequestStartTransaction": ("start_charging", "RemoteStartTransaction"),
    "RequestStopTransaction": ("stop_charging", "RemoteStopTransaction"),
    "GetVariables": ("get_configuration", "GetConfiguration"),
    "SetVariables": ("change_configuration", "ChangeConfiguration"),
    "GetLog": ("", "GetDiagnostics"),
}

_TRIGGERS_16 = ("BootNotification", "DiagnosticsStatusNotification",
                "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StatusNotification")
_TRIGGERS_201 = ("BootNotification", "LogStatusNotification", "FirmwareStatusNotification",
                 "Heartbeat", "MeterValues", "SignChargingStationCertificate",
                 "SignV2GCertificate", "StatusNotification", "TransactionEvent",
                 "SignCombinedCertificate", "PublishFirmwareStatusNotification")
TRIGGERS = {Version.V16: _TRIGGERS_16, Version.V201: _TRIGGERS_201,
            Version.V21: (*_TRIGGERS_201, "SignV2G20Certificate", "CustomTrigger")}

# 2.x configuration keys: Component[instance].Variable[instance]
_KEY_2X = re.compile(r"^([^.\[\]]+)(?:\[([^\]]+)\])?\.([^.\[\]]+)(?:\[([^\]]+)\])?$")


@dataclass(slots=True)
class _Ctx:
    name: str
    cp: ChargePointState
    version: Version
    settings: Settings
    call: Call
    limits: Limits
    connector: int | None

    @property
    def v16(self) -> bool:
        return self.version is Version.V16


Handler = Callable[[_Ctx, dict[str, Any]], Awaitable[CommandResult]]


async def run_command(name: str, args: Any, *, cp: ChargePointState, version: str,
                      settings: Settings, call: Call, limits: Limits,
                      connector: int | None = None) -> CommandResult:
    """Run command `name` on charge point `cp` (which speaks `version`). `connector` (from a
    topic like ocpp/set/{cid}/{n}/...) is the connector of a high-level command whose `args`
    name none; OCPP actions ignore it."""
    label = name if isinstance(name, str) else repr(name)
    try:
        ver = Version.parse(version)
    except (ValueError, AttributeError):
        return CommandResult(INVALID, label, f"unknown OCPP version {version!r}")
    try:
        kind, target = resolve(name, ver)
        label = target
        if kind == "command":
            ctx = _Ctx(target, cp, ver, settings, call, limits, connector)
            return await COMMANDS[target](ctx, _arg_dict(target, args))
        payload = camel_keys(_arg_dict(target, args))
    except BadCommand as exc:
        return CommandResult(INVALID, label, str(exc))
    result = await call(target, payload)
    if target in ("SetChargingProfile", "ClearChargingProfile") \
            and result.status not in (OFFLINE, INVALID, QUEUE_FULL):
        limits.forget(cp.identity)  # our profiles may be gone or overridden
    return result


def resolve(name: Any, version: Version) -> tuple[str, str]:
    """("command", high-level name) or ("action", OCPP action); BadCommand if neither."""
    if not isinstance(name, str) or not name.strip():
        raise BadCommand(f"expected a command or OCPP action name; got {name!r}")
    name = name.strip()
    name = ALIASES.get(name, name)
    if name in COMMANDS:
        return "command", name
    actions = _schemas().actions(version)
    key = _norm(name)
    action = name if name in actions else None
    if action is None and key in _COMMANDS_NORM:
        return "command", _COMMANDS_NORM[key]
    action = action or _index(version).get(key)
    if action is not None:
        if not sent_by_central_system(version, action):
            raise BadCommand(f"{action} is sent by charge points, not to them")
        return "action", action
    for other in Version:
        found = _index(other).get(key)
        if other is not version and found is not None:
            raise BadCommand(_other_version(found, version))
    suggestions = _close_matches(name, version)
    hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
    raise BadCommand(f"unknown command {name!r} for OCPP {version.value}{hint}")


# ---- high-level commands ---------------------------------------------------------------------
async def _start_charging(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    a = Args(ctx.name, args, ("id_tag", "id_token", *Args.CONNECTOR), ctx.connector)
    n = a.connector(1, minimum=1)
    tag = a.get("id_tag", "id_token")
    tag = ctx.settings.remote_start_id_tag if tag is None else tag
    if not isinstance(tag, str) or not tag:
        raise BadCommand(f"id_tag: expected a non-empty string; got {tag!r}")
    if not ctx.cp.charging_enabled:
        raise BadCommand("charging is disabled for this charge point (set_charging_enabled): "
                         "its Authorize and StartTransaction would be answered Blocked")
    if ctx.v16:
        return await ctx.call("RemoteStartTransaction", {"connectorId": n, "idTag": tag})
    return await ctx.call("RequestStartTransaction", {
        "evseId": n, "idToken": {"idToken": tag, "type": "Central"},
        "remoteStartId": ctx.limits.next_request_id()})


async def _stop_charging(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    a = Args(ctx.name, args, ("transaction_id", *Args.CONNECTOR), ctx.connector)
    tx = a.get("transaction_id")
    if tx is None:
        n = a.connector(1, minimum=1)
        conn = ctx.cp.connectors.get(n)
        tx = conn.transaction_id if conn is not None else None
        if tx is None:
            raise BadCommand(f"no transaction in progress on connector {n}")
    if ctx.v16:
        return await ctx.call("RemoteStopTransaction",
                              {"transactionId": as_int(tx, "transaction_id")})
    return await ctx.call("RequestStopTransaction",
                          {"transactionId": as_text(tx, "transaction_id")})


def _limit(unit: str, key: str) -> Handler:
    async def handler(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
        a = Args(ctx.name, args, (key, "value", "limit", *Args.CONNECTOR), ctx.connector)
        n = a.connector(0)
        value = as_number(a.require(key, "value", "limit"), key)
        if value < 0:
            raise BadCommand(f"{key} must be 0 or more; got {value:g}")
        return await ctx.limits.apply(ctx.cp, ctx.version, ctx.settings, ctx.call, n,
                                      (unit, value), ctx.name)
    return handler


async def _clear_limit(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    n = Args(ctx.name, args, Args.CONNECTOR, ctx.connector).connector(0)
    return await ctx.limits.apply(ctx.cp, ctx.version, ctx.settings, ctx.call, n, None,
                                  ctx.name)


async def _set_available(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    a = Args(ctx.name, args, ("available", "value", *Args.CONNECTOR), ctx.connector)
    n = a.connector(0)
    kind = "Operative" if as_bool(a.require("available", "value"), "available") \
        else "Inoperative"
    if ctx.v16:
        return await ctx.call("ChangeAvailability", {"connectorId": n, "type": kind})
    payload: dict[str, Any] = {"operationalStatus": kind}
    if n:
        payload["evse"] = {"id": n}
    return await ctx.call("ChangeAvailability", payload)


_RESET_16 = {"soft": "Soft", "press": "Soft", "onidle": "Soft", "hard": "Hard",
             "immediate": "Hard"}
_RESET_2X = {"soft": "OnIdle", "press": "OnIdle", "onidle": "OnIdle", "hard": "Immediate",
             "immediate": "Immediate", "immediateandresume": "ImmediateAndResume"}


async def _reset(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    a = Args(ctx.name, args, ("type", "value", *Args.CONNECTOR), ctx.connector)
    given = a.get("type", "value")
    text = _norm(given) if isinstance(given, str) else "soft" if given is None else ""
    kind = (_RESET_16 if ctx.v16 else _RESET_2X).get(text)
    if kind is None:
        raise BadCommand(f"type: expected soft or hard; got {given!r}")
    n = a.connector(0) if a.has_connector() else 0
    if ctx.v16:
        if n:
            raise BadCommand("OCPP 1.6 resets the whole charge point: leave out connector")
        return await ctx.call("Reset", {"type": kind})
    return await ctx.call("Reset", {"type": kind, "evseId": n} if n else {"type": kind})


async def _unlock(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    n = Args(ctx.name, args, ("value", *Args.CONNECTOR), ctx.connector).connector(1, 1)
    if ctx.v16:
        return await ctx.call("UnlockConnector", {"connectorId": n})
    return await ctx.call("UnlockConnector", {"evseId": n, "connectorId": 1})


async def _get_configuration(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    keys = _keys(Args(ctx.name, args, ("keys", "key")).get("keys", "key"))
    if ctx.v16:
        return await ctx.call("GetConfiguration", {"key": keys} if keys else {})
    if not keys:  # the values come as NotifyReport messages
        return await ctx.call("GetBaseReport", {"requestId": ctx.limits.next_request_id(),
                                                "reportBase": "ConfigurationInventory"})
    return await ctx.call("GetVariables",
                          {"getVariableData": [_component_variable(k) for k in keys]})


async def _change_configuration(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    a = Args(ctx.name, args, ("key", "value"))
    key = a.require("key")
    if not isinstance(key, str) or not key:
        raise BadCommand(f"key: expected a configuration key name; got {key!r}")
    value = as_text(a.require("value"), "value")
    if ctx.v16:
        return await ctx.call("ChangeConfiguration", {"key": key, "value": value})
    return await ctx.call("SetVariables", {"setVariableData": [
        {"attributeValue": value, **_component_variable(key)}]})


async def _trigger(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    a = Args(ctx.name, args, ("message", "requested_message", *Args.CONNECTOR), ctx.connector)
    given = a.require("message", "requested_message")
    choices = TRIGGERS[ctx.version]
    message = {_norm(m): m for m in choices}.get(_norm(given) if isinstance(given, str) else "")
    if message is None:
        raise BadCommand(f"message: OCPP {ctx.version.value} can trigger {', '.join(choices)}; "
                         f"got {given!r}")
    payload: dict[str, Any] = {"requestedMessage": message}
    if a.has_connector():
        n = a.connector(0)
        if ctx.v16:
            payload["connectorId"] = n
        elif n:
            payload["evse"] = {"id": n}
    return await ctx.call("TriggerMessage", payload)


async def _set_charging_enabled(ctx: _Ctx, args: dict[str, Any]) -> CommandResult:
    a = Args(ctx.name, args, ("enabled", "charging_enabled", "value"))
    enabled = as_bool(a.require("enabled", "charging_enabled", "value"), "enabled")
    ctx.cp.charging_enabled = enabled
    return CommandResult(ANSWERED, ctx.name, result={"charging_enabled": enabled})


COMMANDS: dict[str, Handler] = {
    "start_charging": _start_charging,
    "stop_charging": _stop_charging,
    "set_current_limit": _limit("A", "amps"),
    "set_power_limit": _limit("W", "watts"),
    "clear_limit": _clear_limit,
    "set_available": _set_available,
    "reset": _reset,
    "unlock": _unlock,
    "get_configuration": _get_configuration,
    "change_configuration": _change_configuration,
    "trigger": _trigger,
    "set_charging_enabled": _set_charging_enabled,
}


# ---- helpers ---------------------------------------------------------------------------------
def _norm(name: str) -> str:
    return name.replace("_", "").replace("-", "").replace(" ", "").lower()


_COMMANDS_NORM = {_norm(n): n for n in COMMANDS}


@functools.cache
def _schemas() -> Schemas:
    return Schemas()  # only the names of the schema files are read here


@functools.cache
def _index(version: Version) -> dict[str, str]:
    """normalised name -> action, for every action of `version`."""
    return {_norm(a): a for a in _schemas().actions(version)}


def _snake(action: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", action).lower()


def _close_matches(name: str, version: Version) -> list[str]:
    candidates = {n: n for n in COMMANDS}
    for action in _schemas().actions(version):
        if sent_by_central_system(version, action):
            candidates[_snake(action)] = action
            candidates[action.lower()] = action
    found = difflib.get_close_matches(name.lower(), list(candidates), n=6, cutoff=0.7)
    return list(dict.fromkeys(candidates[f] if f in COMMANDS else f for f in found))[:3]


def _other_version(action: str, version: Version) -> str:
    where = "1.6" if version.is_2x else "2.0.1/2.1"
    text = f"{action} is an OCPP {where} action; this charge point speaks {version.value}"
    command, other = _EQUIVALENT.get(action, ("", ""))
    uses = [u for u in (command, other) if u]
    return text + (f": use {' or '.join(uses)}" if uses else "")


def _arg_dict(name: str, args: Any) -> dict[str, Any]:
    if args is None:
        return {}
    if isinstance(args, dict):
        return args
    if name == "set_charging_enabled" and isinstance(args, str | int | float | bool):
        return {"enabled": args}  # ocpp2mqtt: {"action": "charging_enabled", "args": "ON"}
    raise BadCommand(f"args of {name} must be a JSON object; got {type(args).__name__}")


def _keys(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    if isinstance(value, list) and all(isinstance(k, str) for k in value):
        return value
    raise BadCommand(f"keys: expected a list of key names; got {value!r}")


def _component_variable(key: str) -> dict[str, Any]:
    match = _KEY_2X.match(key)
    if match is None:
        raise BadCommand(f"OCPP 2.x keys are Component.Variable (e.g. "
                         f"OCPPCommCtrlr.HeartbeatInterval); got {key!r}")
    component: dict[str, Any] = {"name": match.group(1)}
    variable: dict[str, Any] = {"name": match.group(3)}
    if match.group(2):
        component["instance"] = match.group(2)
    if match.group(4):
        variable["instance"] = match.group(4)
    return {"component": component, "variable": variable}
