"""The northbound profiles of central mode, built from `profiles` (the `emqx` stream is the
relay's own and needs no object here)."""

from __future__ import annotations

import importlib

from ...config import Settings
from .profile import Profile

# profile name -> (module under ocpp_mqtt.northbound, class); imported only when chosen
_CLASSES = {
    "native": ("native", "NativeProfile"),
    "homeassistant": ("homeassistant", "HomeAssistantProfile"),
    "ocpp2mqtt": ("ocpp2mqtt", "Ocpp2MqttProfile"),
    "thingsboard": ("thingsboard", "ThingsBoardProfile"),
}


def make_profiles(settings: Settings) -> list[Profile]:
    profiles: list[Profile] = []
    for name in settings.active_profiles:
        if name not in _CLASSES:
            continue
        module_name, class_name = _CLASSES[name]
        module = importlib.import_module(f"ocpp_mqtt.northbound.{module_name}")
        profiles.append(getattr(module, class_name)(settings))
    return profiles
