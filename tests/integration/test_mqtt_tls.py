"""`mqtts://` with a CA bundle and a client certificate, against a Mosquitto TLS listener."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocpp_mqtt.config import ConfigError
from tests.certs import Pki
from tests.conftest import Mosquitto

from .wsutil import connect


class TlsBroker(Mosquitto):
    def __init__(self, folder: Path) -> None:
        self.ca = Pki(folder)
        self.server = self.ca.issue("server", "localhost", server=True)
        self.client = self.ca.issue("client", "gateway", server=False, kind="ec")
        super().__init__(folder, f"cafile {self.ca.path}\ncertfile {self.server.cert}\n"
                                 f"keyfile {self.server.key}\nrequire_certificate true\n")
        self.start()


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    broker = TlsBroker(tmp_path_factory.mktemp("tls"))
    yield broker
    broker.stop()


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
