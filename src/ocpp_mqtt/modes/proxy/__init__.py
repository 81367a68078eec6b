"""Proxy mode: an upstream CSMS answers the charge points; MQTT watches and injects."""
