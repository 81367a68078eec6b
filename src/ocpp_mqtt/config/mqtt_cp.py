"""Options of OCPP over MQTT: charge points that are MQTT clients themselves."""

from __future__ import annotations

from pydantic import Field, field_validator

from .checks import Area, check_topic


class MqttChargePointOptions(Area):
    # ---- OCPP over MQTT (charge points that are MQTT clients) ------------------------------
    mqtt_cp: bool = Field(False, description="also serve charge points that speak OCPP over MQTT")
    mqtt_cp_up_topic: str = Field("mqtt/${cid}/up", description="frames from MQTT charge points")
    mqtt_cp_down_topic: str = Field(
        "mqtt/${cid}/down", description="frames to MQTT charge points (in their encoding)"
    )
    mqtt_cp_presence_topic: str = Field(
        "mqtt/${cid}/presence", description="MQTT charge points' online message and last will"
    )
    mqtt_cp_session_topic: str = Field(
        "mqtt/${cid}/session", description="the gateway's accepted/refused/closed to them"
    )

    @field_validator("mqtt_cp_up_topic", "mqtt_cp_down_topic", "mqtt_cp_presence_topic",
                     "mqtt_cp_session_topic")
    @classmethod
    def _check_mqtt_cp_topic(cls, value: str) -> str:
        return check_topic(value)
