"""OCPP over MQTT: bytes per message with the protobuf envelope (ocppj/ocpp_frame.proto)
against OCPP-J JSON text, for a typical 1.6 day of a charge point's messages. Figures only.

    .venv/bin/python bench/mqtt_cp_size.py
"""

from __future__ import annotations

import sys
import uuid

import orjson

from ocpp_mqtt.ocppj import protobuf
from ocpp_mqtt.ocppj.versions import Version


def meter_values(samples: int) -> dict[str, object]:
    measurands = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
                  "Voltage", "SoC"]
    return {"connectorId": 1, "transactionId": 4242, "meterValue": [{
        "timestamp": "2026-01-01T12:00:00.000Z",
        "sampledValue": [{"value": f"{1234.5 + i:.1f}", "measurand": measurands[i % 5],
                          "unit": "Wh" if i % 5 == 0 else "W", "context": "Sample.Periodic"}
                         for i in range(samples)]}]}


def frames() -> list[tuple[str, str, int]]:
    """(name, OCPP-J text, how many a day) with UUID message ids as most chargers use."""
    def call(action: str, payload: object) -> str:
        return orjson.dumps([2, str(uuid.uuid4()), action, payload]).decode()

    def result(payload: object) -> str:
        return orjson.dumps([3, str(uuid.uuid4()), payload]).decode()

    return [
        ("Heartbeat", call("Heartbeat", {}), 288),
        ("Heartbeat result", result({"currentTime": "2026-01-01T12:00:00.000Z"}), 288),
        ("StatusNotification", call("StatusNotification", {
            "connectorId": 1, "errorCode": "NoError", "status": "Charging",
            "timestamp": "2026-01-01T12:00:00.000Z"}), 8),
        ("empty result", result({}), 8 + 96),
        ("MeterValues (10 samples)", call("MeterValues", meter_values(10)), 96),
        ("Authorize", call("Authorize", {"idTag": "04A2B3C4D5E6F7"}), 2),
        ("Authorize result", result({"idTagInfo": {"status": "Accepted"}}), 2),
    ]


def main() -> int:
    total_json = total_pb = 0
    print(f"{'message':<26}{'JSON':>7}{'protobuf':>10}{'ratio':>8}")
    for name, text, per_day in frames():
        pb = len(protobuf.from_text(text, Version.V16))
        js = len(text.encode())
        total_json += js * per_day
        total_pb += pb * per_day
        print(f"{name:<26}{js:>7}{pb:>10}{pb / js:>8.3f}")
    print(f"{'a day (288 heartbeats, ...)':<26}{total_json:>7}{total_pb:>10}"
          f"{total_pb / total_json:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
