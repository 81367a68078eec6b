"""Charge point listeners: one address and one OCPP security profile each (SEC-07).

A listener is a table in the `listeners` setting (TOML `[[listeners]]`, JSON on the command
line and in the environment). Profile 0 has no authentication (trusted networks only, SEC-02),
1 is `ws://` with HTTP Basic, 2 is `wss://` with HTTP Basic, 3 is `wss://` with a client
certificate (SEC-01). The legacy `listen` option is one profile-0 listener.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# SEC-08: the suites the Security Whitepaper requires (A00.FR.312/.317), plus their ECDHE-RSA
# forms so an RSA-only server keeps forward secrecy. TLS 1.3 suites are OpenSSL's defaults.
SEC08_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
    "AES128-GCM-SHA256", "AES256-GCM-SHA384",
))
TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT with a port 0-65535, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _paths(value: Any) -> Any:
    if isinstance(value, (str, Path)):
        return [value] if str(value) else []
    return value


class ListenerSpec(BaseModel):
    """One `[[listeners]]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(description="HOST:PORT to listen on")
    profile: Literal[0, 1, 2, 3] = Field(description="OCPP security profile 0-3")
    cert: list[Path] = Field(default_factory=list,
                             description="server certificate chain(s), PEM; RSA and/or ECDSA")
    key: list[Path] = Field(default_factory=list, description="private key per cert, PEM")
    ca: Path | None = Field(None, description="profile 3: CAs that sign charge point certificates")
    tls_min_version: Literal["1.0", "1.1", "1.2", "1.3"] = Field(
        "1.2", description="lowest TLS version; 1.0/1.1 are refused for OCPP 2.x (SEC-08)")
    ciphers: str = Field(SEC08_CIPHERS, description="OpenSSL cipher list for TLS <= 1.2")
    client_identity: Literal["cn", "cn_contains", "serial_number"] = Field(
        "cn", description="profile 3: how the certificate names the charge point (SEC-09)")
    client_organization: str | None = Field(
        None, description="profile 3: required subject O (the CPO name), if set")

    _split_cert = field_validator("cert", "key", mode="before")(_paths)

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        _hostport(value)
        return value

    @model_validator(mode="after")
    def _check_profile(self) -> ListenerSpec:
        where = f"listener {self.address} (profile {self.profile})"
        if self.profile >= 2:
            if not self.cert:
                raise ValueError(f"{where}: needs `cert` and `key` (PEM files; give an RSA and "
                                 "an ECDSA pair as lists to offer both, SEC-08)")
            if len(self.cert) != len(self.key):
                raise ValueError(f"{where}: {len(self.cert)} cert(s) but {len(self.key)} "
                                 "key(s); give one key per certificate, in the same order")
            for path in (*self.cert, *self.key):
                if not path.is_file():
                    raise ValueError(f"{where}: {path} is not a readable file")
        elif self.cert or self.key:
            raise ValueError(f"{where}: `cert`/`key` need profile 2 or 3 (profiles 0 and 1 are "
                             "plain ws://); set profile = 2 for TLS with HTTP Basic")
        if self.profile == 3:
            if self.ca is None:
                raise ValueError(f"{where}: profile 3 needs `ca`, the CA bundle that signs "
                                 "charge point certificates")
            if not self.ca.is_file():
                raise ValueError(f"{where}: ca {self.ca} is not a readable file")
        elif self.ca is not None:
            raise ValueError(f"{where}: `ca` (client certificates) needs profile 3")
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        return _hostport(self.address)

    @property
    def tls(self) -> bool:
        return self.profile >= 2

    @property
    def scheme(self) -> str:
        return "wss" if self.tls else "ws"


def legacy_listener(listen: str) -> ListenerSpec:
    """The `listen` option as a listener: profile 0, as before profiles existed."""
    return ListenerSpec.model_validate({"address": listen, "profile": 0})
