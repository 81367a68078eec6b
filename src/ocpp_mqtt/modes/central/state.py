"""The state model of central mode: one :class:`ChargePointState` per identity, holding one
:class:`ConnectorState` per connector (1.6) or EVSE (2.x).

Units are normalised once, here, so every northbound profile shows the same numbers: energy in
Wh (profiles may show kWh), power in W, current in A, voltage in V, temperature in °C,
frequency in Hz, state of charge in %. Statuses of 1.6 and 2.x are mapped to one vocabulary
(1.6's `ChargePointStatus`, the one Home Assistant users know): 2.x `Occupied` reads
`Preparing`, or `Charging` / `SuspendedEV` / `SuspendedEVSE` once a TransactionEvent says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# The one status vocabulary (a connector's `status`)
STATUSES = ("Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing",
            "Reserved", "Unavailable", "Faulted")

CHARGING_STATUSES = frozenset({"Charging"})
PLUGGED_STATUSES = frozenset({"Preparing", "Charging", "SuspendedEVSE", "SuspendedEV",
                              "Finishing"})


@dataclass(slots=True)
class ConnectorState:
    """One connector (1.6 `connectorId` >= 1) or EVSE (2.x `evseId`). Connector 0 holds what
    a charge point reports for itself as a whole (1.6 StatusNotification on connector 0)."""

    connector_id: int
    status: str | None = None  # one of STATUSES
    ocpp_status: str | None = None  # as the charge point sent it
    error_code: str | None = None  # 1.6 errorCode ("NoError" when fine)
    info: str | None = None
    vendor_error_code: str | None = None
    status_at: str | None = None  # the charge point's timestamp of the status
    # the transaction in progress (None between transactions); 1.6 ids are given as text too
    transaction_id: str | None = None
    id_tag: str | None = None
    session_started_at: str | None = None
    session_stopped_at: str | None = None  # the end of the last transaction
    stop_reason: str | None = None
    meter_start_wh: float | None = None
    session_energy_wh: float | None = None  # energy of the current (or last) transaction
    session_seconds: int | None = None
    # latest readings, normalised (None until reported)
    energy_wh: float | None = None  # Energy.Active.Import.Register: the meter, never resets
    power_w: float | None = None  # Power.Active.Import
    current_a: float | None = None  # Current.Import: without phase, else the highest phase
    voltage_v: float | None = None  # Voltage: without phase, else the first phase reported
    soc: float | None = None  # SoC, %
    temperature_c: float | None = None
    frequency_hz: float | None = None
    current_offered_a: float | None = None
    power_offered_w: float | None = None
    # every reading by its full key: "<Measurand>[.<phase>][@<location>]" -> normalised value,
    # e.g. "Current.Import.L1", "Voltage.L1-N", "Temperature@Body"
    readings: dict[str, float] = field(default_factory=dict)
    readings_at: str | None = None  # the charge point's timestamp of the latest readings
    limit_a: float | None = None  # the current limit the charge point last accepted
    limit_w: float | None = None  # the power limit the charge point last accepted
    # 2.x: the raw status of each connector of this EVSE by connectorId (as text); `ocpp_status`
    # is the EVSE's, derived from them, so a second connector's Unavailable cannot hide the
    # first one's Occupied (observe.py)
    connector_statuses: dict[str, str] = field(default_factory=dict)

    @property
    def charging(self) -> bool:
        return self.status in CHARGING_STATUSES

    @property
    def plugged(self) -> bool:
        return self.status in PLUGGED_STATUSES

    @property
    def session_active(self) -> bool:
        """A transaction is open, charging or paused (SuspendedEV, SuspendedEVSE)."""
        return self.transaction_id is not None

    @property
    def problem(self) -> bool:
        return self.status == "Faulted" or self.error_code not in (None, "NoError")

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(charging=self.charging, plugged=self.plugged, problem=self.problem,
                   session_active=self.session_active)
        return out


@dataclass(slots=True)
class ChargePointState:
    identity: str
    cid_level: str  # the identity escaped for topics (ID-03)
    version: str | None = None  # "1.6", "2.0.1", "2.1" of the latest connection
    online: bool = False
    connected_at: str | None = None  # ISO 8601 UTC, set by the gateway
    disconnected_at: str | None = None
    disconnect_reason: str | None = None
    last_seen: str | None = None  # any frame from the charge point
    remote_address: str | None = None
    # BootNotification (1.6 names; 2.x chargingStation/modem fields map onto them)
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None  # chargePointSerialNumber / serialNumber
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    boot_reason: str | None = None  # 2.x BootNotification reason
    booted_at: str | None = None  # when the gateway answered the latest BootNotification
    registration: str | None = None  # Accepted / Pending / Rejected: our Boot answer
    heartbeat_at: str | None = None
    firmware_status: str | None = None
    diagnostics_status: str | None = None  # 1.6 Diagnostics / 2.x LogStatusNotification
    last_security_event: str | None = None
    # the gateway's own switch (set_charging_enabled): off answers Authorize/Start with Blocked
    charging_enabled: bool = True
    connectors: dict[int, ConnectorState] = field(default_factory=dict)

    def connector(self, connector_id: int) -> ConnectorState:
        found = self.connectors.get(connector_id)
        if found is None:
            found = self.connectors[connector_id] = ConnectorState(connector_id)
        return found

    def outlets(self) -> list[ConnectorState]:
        """The connectors a car plugs into (id >= 1), in order."""
        return [c for i, c in sorted(self.connectors.items()) if i >= 1]

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "connectors"}
        out["connectors"] = {str(i): c.to_json() for i, c in sorted(self.connectors.items())}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChargePointState:
        """Read back what :meth:`to_json` wrote (the store keeps state over restarts)."""
        names = {f.name for f in fields(cls)} - {"connectors"}
        cp = cls(**{k: v for k, v in data.items() if k in names})
        connector_names = {f.name for f in fields(ConnectorState)}
        for key, value in (data.get("connectors") or {}).items():
            cp.connectors[int(key)] = ConnectorState(
                **{k: v for k, v in value.items() if k in connector_names})
        return cp
