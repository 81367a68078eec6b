"""ocpp-mqtt: a spec-exact OCPP-J (1.6, 2.0.1, 2.1) gateway between EV charge points and MQTT."""

__version__ = "0.1.0"
