"""The MQTT side: client, payload profiles, embedded broker."""
