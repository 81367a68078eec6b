"""The admin listener: HTTP API (api.py, views.py, openapi.py), live event stream (stream.py),
Prometheus metrics (metrics.py) and probes, behind a bearer token (auth.py); server.py binds it
on the gateway's event loop."""
