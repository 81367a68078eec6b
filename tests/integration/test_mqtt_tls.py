"""`mqtts://` with a CA bundle and a client certificate, against a Mosquitto TLS listener."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocpp_mqtt.config import ConfigError
from tests.certs import Pki
from tests.conftest import _mosquitto_binary, free_port

from .wsutil import connect


class TlsBroker:
    def __init__(self, folder: Path) -> None:
        self.ca = Pki(folder)
        self.server = self.ca.issue("server", "localhost", server=True)
        self.client = self.ca.issue("client", "gateway", server=False, kind="ec")
        self.port = free_port()
        conf = folder / "mosquitto-tls.conf"
        conf.write_text(
            "user root\n"
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {self.ca.path}\ncertfile {self.server.cert}\nkeyfile {self.server.key}\n"
            "require_certificate true\nallow_anonymous true\nset_tcp_nodelay true\n")
        self.proc = subprocess.Popen([_mosquitto_binary(), "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("TLS mosquitto did not start")


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    broker = TlsBroker(tmp_path_factory.mktemp("tls"))
    yield broker
    broker.proc.terminate()
    broker.proc.wait(5)


async def test_mqtts_with_ca_and_client_certificate(make_gateway: Any,
                                                    tls_broker: TlsBroker) -> None:
    gw = await make_gateway(mqtt=f"mqtts://127.0.0.1:{tls_broker.port}",
                            mqtt_ca=str(tls_broker.ca.path),
                            mqtt_cert=str(tls_broker.client.cert),
                            mqtt_key=str(tls_broker.client.key))
    assert gw.gateway.link.connected
    async with connect(gw.url("TLS1"), ["ocpp1.6"]) as ws:
        await ws.send('[2,"x","FooBar",{}]')  # the session works over a TLS-connected link
        assert "NotImplemented" in str(await ws.recv())


async def test_mqtts_without_client_certificate_is_refused(make_gateway: Any,
                                                           tls_broker: TlsBroker) -> None:
    with pytest.raises(ConfigError, match="mqtt: cannot connect"):
        await make_gateway(mqtt=f"mqtts://127.0.0.1:{tls_broker.port}",
                           mqtt_ca=str(tls_broker.ca.path), mqtt_connect_timeout=1.5)
