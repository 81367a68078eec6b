"""The edges: the charge point WebSocket listener and its connections."""
