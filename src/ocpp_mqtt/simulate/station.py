"""What a simulated charge point knows about itself: connectors, their transactions and
charging profiles, and its configuration (1.6 keys; 2.x component/variable pairs map onto the
same values). Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from .meter import NOMINAL_VOLTAGE, Meter


@dataclass(slots=True)
class Transaction:
    connector: int
    id_tag: str
    # 1.6: the central system's id, None until StartTransaction is answered; 2.x: our own
    tx_id: int | str | None
    meter_start: int
    remote_start_id: int | None = None
    seq_no: int = 0  # 2.x: the next TransactionEvent's seqNo
    stop_reason: str | None = None  # set when it should end
    ended: bool = False
    offline: bool = False  # started while disconnected

    def next_seq(self) -> int:
        seq = self.seq_no
        self.seq_no += 1
        return seq


@dataclass(slots=True)
class Profile:
    id: int
    purpose: str
    stack_level: int
    limit_w: float


@dataclass(slots=True)
class Connector:
    id: int
    meter: Meter
    state: str = "Available"  # 1.6 vocabulary; messages.status maps it for 2.x
    operative: bool = True
    inoperative_after_transaction: bool = False  # ChangeAvailability answered Scheduled
    transaction: Transaction | None = None
    transactions_done: int = 0
    reported: str = ""  # the status last sent on this connection
    profiles: dict[int, Profile] = field(default_factory=dict)

    @property
    def free(self) -> bool:
        return self.operative and self.transaction is None and self.state == "Available"


@dataclass(slots=True)
class Key:
    value: str
    readonly: bool = False
    kind: str = "str"  # int, bool, str: what ChangeConfiguration / SetVariables accept


def default_keys(connectors: int, heartbeat: float, meter_interval: float) -> dict[str, Key]:
    # fractions of a second are allowed for fast test runs (a real charger takes integers)
    return {
        "HeartbeatInterval": Key(f"{heartbeat:g}", kind="int"),
        "MeterValueSampleInterval": Key(f"{meter_interval:g}", kind="int"),
        "ConnectionTimeOut": Key("60", kind="int"),
        "NumberOfConnectors": Key(str(connectors), readonly=True, kind="int"),
        "AuthorizeRemoteTxRequests": Key("false", kind="bool"),
        "LocalAuthorizeOffline": Key("true", kind="bool"),
        "MeterValuesSampledData": Key(
            "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"),
        "SupportedFeatureProfiles": Key("Core,RemoteTrigger,SmartCharging", readonly=True),
        "TransactionMessageAttempts": Key("3", kind="int"),
        "TransactionMessageRetryInterval": Key("10", kind="int"),
        "StopTransactionOnEVSideDisconnect": Key("true", kind="bool"),
        "UnlockConnectorOnEVSideDisconnect": Key("true", kind="bool"),
        "WebSocketPingInterval": Key("0", kind="int"),
        "ChargeProfileMaxStackLevel": Key("8", readonly=True, kind="int"),
        "ChargingScheduleAllowedChargingRateUnit": Key("Current,Power", readonly=True),
        "ChargingScheduleMaxPeriods": Key("24", readonly=True, kind="int"),
        "MaxChargingProfilesInstalled": Key("10", readonly=True, kind="int"),
        "GetConfigurationMaxKeys": Key("50", readonly=True, kind="int"),
        "RetryBackOffWaitMinimum": Key("3", kind="int"),
        "RetryBackOffRandomRange": Key("3", kind="int"),
        "RetryBackOffRepeatTimes": Key("5", kind="int"),
    }


# 2.x (component, variable) -> the 1.6-style key holding its value
VARIABLES: dict[tuple[str, str], str] = {
    ("OCPPCommCtrlr", "HeartbeatInterval"): "HeartbeatInterval",
    ("SampledDataCtrlr", "TxUpdatedInterval"): "MeterValueSampleInterval",
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): "MeterValuesSampledData",
    ("AuthCtrlr", "AuthorizeRemoteStart"): "AuthorizeRemoteTxRequests",
    ("AuthCtrlr", "LocalAuthorizeOffline"): "LocalAuthorizeOffline",
    ("OCPPCommCtrlr", "MessageAttempts"): "TransactionMessageAttempts",
    ("OCPPCommCtrlr", "MessageAttemptInterval"): "TransactionMessageRetryInterval",
    ("OCPPCommCtrlr", "WebSocketPingInterval"): "WebSocketPingInterval",
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum"): "RetryBackOffWaitMinimum",
    ("OCPPCommCtrlr", "RetryBackOffRandomRange"): "RetryBackOffRandomRange",
    ("OCPPCommCtrlr", "RetryBackOffRepeatTimes"): "RetryBackOffRepeatTimes",
    ("TxCtrlr", "EVConnectionTimeOut"): "ConnectionTimeOut",
    ("TxCtrlr", "StopTxOnEVSideDisconnect"): "StopTransactionOnEVSideDisconnect",
    ("SmartChargingCtrlr", "ProfileStackLevel"): "ChargeProfileMaxStackLevel",
    ("SmartChargingCtrlr", "PeriodsPerSchedule"): "ChargingScheduleMaxPeriods",
    ("SmartChargingCtrlr", "RateUnit"): "ChargingScheduleAllowedChargingRateUnit",
    ("DeviceDataCtrlr", "ItemsPerMessage"): "GetConfigurationMaxKeys",
}
COMPONENTS = frozenset(component for component, _ in VARIABLES)


@dataclass(slots=True)
class Station:
    connectors: list[Connector]
    keys: dict[str, Key]
    max_power_w: float
    reset_when_idle: bool = False
    station_profiles: dict[int, Profile] = field(default_factory=dict)  # connector/EVSE 0

    def connector(self, connector_id: int) -> Connector | None:
        if 1 <= connector_id <= len(self.connectors):
            return self.connectors[connector_id - 1]
        return None

    def int_key(self, name: str, default: int) -> int:
        key = self.keys.get(name)
        try:
            return int(key.value) if key is not None else default
        except ValueError:
            return default

    def float_key(self, name: str, default: float) -> float:
        key = self.keys.get(name)
        try:
            return float(key.value) if key is not None else default
        except ValueError:
            return default

    def set_key(self, name: str, value: str) -> str:
        """ChangeConfiguration's status: Accepted, Rejected or NotSupported."""
        key = self.keys.get(name)
        if key is None:
            return "NotSupported"
        if key.readonly:
            return "Rejected"
        if key.kind == "int":
            try:
                if int(value) < 0:
                    return "Rejected"
            except ValueError:
                return "Rejected"
        elif key.kind == "bool" and value.lower() not in ("true", "false"):
            return "Rejected"
        key.value = value.lower() if key.kind == "bool" else value
        return "Accepted"

    def transaction(self, tx_id: int | str) -> Transaction | None:
        for connector in self.connectors:
            tx = connector.transaction
            if tx is not None and tx.tx_id == tx_id and tx.stop_reason is None:
                return tx
        return None

    def limit_w(self, connector: Connector) -> float | None:
        """The tightest charging limit: per purpose the highest stack level wins, and the
        connector's own profiles and the station-wide ones (connector/EVSE 0) all apply."""
        best: dict[str, Profile] = {}
        for profile in [*connector.profiles.values(), *self.station_profiles.values()]:
            top = best.get(profile.purpose)
            if top is None or profile.stack_level > top.stack_level:
                best[profile.purpose] = profile
        return min((p.limit_w for p in best.values()), default=None)

    def apply_limits(self) -> None:
        for connector in self.connectors:
            connector.meter.limit_w = self.limit_w(connector)


def to_watts(limit: float, unit: str, phases: int) -> float:
    return limit if unit == "W" else limit * NOMINAL_VOLTAGE * phases
