"""Which side initiates each OCPP action.

A CALL of a known action arriving from the wrong side is "recognised but not supported by the
receiver": NotSupported (ER-04). Actions not listed as charge-point-initiated are sent by the
central system; DataTransfer goes both ways.
"""

from __future__ import annotations

from .versions import Version

BOTH_WAYS = frozenset({"DataTransfer"})

_CP_16 = frozenset({
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction",
    # Security Whitepaper extensions
    "LogStatusNotification", "SecurityEventNotification", "SignCertificate",
    "SignedFirmwareStatusNotification",
})

_CP_201 = frozenset({
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
    "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat",
    "LogStatusNotification", "MeterValues", "NotifyChargingLimit", "NotifyCustomerInformation",
    "NotifyDisplayMessages", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule", "NotifyEvent",
    "NotifyMonitoringReport", "NotifyReport", "PublishFirmwareStatusNotification",
    "ReportChargingProfiles", "ReservationStatusUpdate", "SecurityEventNotification",
    "SignCertificate", "StatusNotification", "TransactionEvent",
})

_CP_21 = _CP_201 | frozenset({
    "BatterySwap", "ClosePeriodicEventStream", "GetCertificateChainStatus", "NotifyDERAlarm",
    "NotifyDERStartStop", "NotifyPeriodicEventStream", "NotifyPriorityCharging",
    "NotifySettlement", "OpenPeriodicEventStream",
    "PullDynamicScheduleUpdate", "ReportDERControl", "VatNumberValidation",
})

CP_INITIATED: dict[Version, frozenset[str]] = {
    Version.V16: _CP_16,
    Version.V201: _CP_201,
    Version.V21: _CP_21,
}


def sent_by_charge_point(version: Version, action: str) -> bool:
    return action in CP_INITIATED[version]


def sent_by_central_system(version: Version, action: str) -> bool:
    """For a known action: may the central system (the MQTT backend) send it?"""
    return action in BOTH_WAYS or action not in CP_INITIATED[version]
