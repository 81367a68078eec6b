"""Who answers the charge points: relay (an MQTT backend)."""
