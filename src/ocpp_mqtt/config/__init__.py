"""One settings model: defaults < TOML file (`--config`) < environment (`OCPP_MQTT_<NAME>`) < CLI.

Every field is an option under the same name everywhere: `call_timeout` is the TOML key
`call_timeout`, the variable `OCPP_MQTT_CALL_TIMEOUT` and the flag `--call-timeout`.
"""

from .admin import ADMIN_OFF, ADMIN_TOKEN_MIN
from .central import PROFILES
from .checks import parse_hostport
from .load import ConfigError, describe_validation_error, did_you_mean, load_settings
from .mqtt import MqttTarget, thingsboard_target
from .proxy import upstream_url
from .settings import Settings
from .topics import PLACEHOLDERS

__all__ = [
    "ADMIN_OFF",
    "ADMIN_TOKEN_MIN",
    "PLACEHOLDERS",
    "PROFILES",
    "ConfigError",
    "MqttTarget",
    "Settings",
    "describe_validation_error",
    "did_you_mean",
    "load_settings",
    "parse_hostport",
    "thingsboard_target",
    "upstream_url",
]
