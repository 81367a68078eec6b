"""`python -m ocpp_mqtt.healthcheck [--config FILE]`: exit 0 when the gateway configured by the
same settings as `serve` (file, OCPP_MQTT_* variables, --compat variables) answers its `/health`
probe, else 1 with the reason on stderr. For container HEALTHCHECKs and exec probes: the image
has python, not curl, and the port is wherever the settings put it."""

from __future__ import annotations

import argparse
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .config import ConfigError, load_settings


def probe_url(config: Path | None) -> str:
    endpoints = load_settings(config).endpoints
    spec = next((e for e in endpoints if not e.tls), endpoints[0])  # plain HTTP if any
    host, port = spec.host_port
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # a wildcard listener answers on loopback
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if spec.tls else 'http'}://{host}:{port}/health"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocpp_mqtt.healthcheck",
                                     description=__doc__)
    parser.add_argument("--config", type=Path, default=None, help="TOML file with settings")
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds (default: 4)")
    args = parser.parse_args(argv)
    try:
        url = probe_url(args.config)
    except ConfigError as exc:
        print(f"unhealthy: config error: {exc}", file=sys.stderr)
        return 1
    try:
        # Over TLS (only wss:// listeners) the probe asks whether the process serves, not
        # whether its certificate names this host: no verification on this local request.
        context = ssl._create_unverified_context() if url.startswith("https") else None
        with urllib.request.urlopen(url, timeout=args.timeout, context=context) as reply:
            status = int(reply.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
