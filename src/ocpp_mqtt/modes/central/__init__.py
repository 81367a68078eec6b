"""Central system mode: the gateway answers charge points itself and keeps their state."""
