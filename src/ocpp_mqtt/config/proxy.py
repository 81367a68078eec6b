"""Options of proxy mode (an upstream CSMS answers; MQTT mirrors and injects): the upstream
and secondary CSMS, their credentials, outages, local actions; `upstream_url`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from .checks import Area, check_topic, split_list
from .mqtt import mask_url


class ProxyOptions(Area):
    # ---- proxy mode (an upstream CSMS answers; MQTT mirrors and injects) -------------------
    upstream: str = Field(
        "", description="proxy: ws[s]:// URL of the upstream CSMS, {cid} = the identity"
    )
    upstream_auth: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="proxy: identity (or *) -> {username, password, cert, key} for the upstream",
    )
    upstream_forward_auth: bool = Field(
        True, description="proxy: forward the charge point's Authorization header upstream"
    )
    upstream_ca: Path | None = Field(None, description="proxy: CA bundle for wss:// upstreams")
    upstream_cert: Path | None = Field(None, description="proxy: client certificate (wss://)")
    upstream_key: Path | None = Field(None, description="proxy: client key (wss://)")
    upstream_connect_timeout: float = Field(
        10.0, gt=0, description="proxy: seconds to open the upstream connection"
    )
    upstream_outage: Literal["close", "central"] = Field(
        "close", description="proxy: upstream lost: close the charge point (LC-01) or answer "
        "with the built-in central system until it is back"
    )
    upstream_reconnect_min: float = Field(
        1.0, gt=0, description="proxy: first upstream reconnect delay, seconds"
    )
    upstream_reconnect_max: float = Field(
        60.0, gt=0, description="proxy: longest upstream reconnect delay, seconds"
    )
    local_actions: list[str] = Field(
        default_factory=list,
        description="proxy: actions the gateway answers itself (e.g. Authorize), not upstream",
    )
    csms_topic: str = Field(
        "csms/${cid}", description="proxy: mirror of every frame sent to the charge point by "
        "the upstream, secondary or the gateway"
    )
    secondary: str = Field(
        "", description="proxy: ws[s]:// URL of a second CSMS that also gets the charge "
        "point's CALLs; its answers are dropped"
    )
    secondary_calls: dict[str, Literal["allow", "block"]] = Field(
        default_factory=dict, description="proxy: Action -> allow or block the secondary's CALLs"
    )
    secondary_calls_default: Literal["allow", "block"] = Field(
        "block", description="proxy: the secondary's CALLs of actions not in secondary_calls"
    )

    @field_validator("csms_topic")
    @classmethod
    def _check_csms_topic(cls, value: str) -> str:
        return check_topic(value)

    @field_validator("upstream", "secondary")
    @classmethod
    def _check_upstream(cls, value: str) -> str:
        if value:
            upstream_url(value, "CP1")
        return value

    @field_validator("local_actions", mode="before")
    @classmethod
    def _split_local_actions(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("local_actions")
    @classmethod
    def _check_local_actions(cls, value: list[str]) -> list[str]:
        from ..ocppj.actions import CP_INITIATED

        known = set().union(*CP_INITIATED.values())
        wrong = [a for a in value if a not in known]
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: not an action charge points send; e.g. "
                             "Authorize, Heartbeat, DataTransfer")
        return list(dict.fromkeys(value))

    @field_validator("upstream_auth")
    @classmethod
    def _check_upstream_auth(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for identity, entry in value.items():
            unknown = set(entry) - {"username", "password", "cert", "key"}
            if unknown:
                raise ValueError(f"{identity!r}: unknown key(s) {', '.join(sorted(unknown))}; "
                                 "use username, password, cert, key")
            if ("password" in entry) and "username" not in entry:
                raise ValueError(f"{identity!r}: a password needs a username")
            if ("key" in entry) and "cert" not in entry:
                raise ValueError(f"{identity!r}: a key needs a cert")
        return value


def upstream_url(template: str, identity: str) -> str:
    """The upstream CSMS's URL for one charge point: `{cid}` (or `${cid}`) is replaced by the
    identity, percent-encoded as one path segment. ValueError says what is wrong."""
    from urllib.parse import quote

    parts = urlsplit(template)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("expected ws://host[:port]/path/{cid} or wss://...; got "
                         + repr(mask_url(template)))
    if "{cid}" not in template:
        raise ValueError("the URL must contain {cid} where the charge point's identity goes, "
                         "e.g. wss://csms.example.com/ocpp/{cid}")
    if parts.password or parts.username:
        raise ValueError("put upstream credentials in upstream_auth, not in the URL")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"bad port in {template!r}") from exc
    return template.replace("${cid}", "{cid}").replace("{cid}", quote(identity, safe=""))
