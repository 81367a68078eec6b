"""The README's shell examples run as written, against real processes: the start-up line of
`ocpp-mqtt serve`, `mosquitto_sub` on the embedded broker, and the `mosquitto_pub` lines of
"Commands for charge points that are not connected" and "Provisioning over MQTT" (ports and
prefix moved to this test's; nothing else changed), with the answers the README shows."""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import free_port
from tests.readme_examples import README, assert_same_shape, block_after, json_objects, section

from .test_cli import first_line, run_to_end, start, stop


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make test-deps` installs mosquitto-clients")
    return path


async def _run(argv: list[str], timeout: float = 10) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, (argv, err.decode())
    return out.decode()


def _readme_commands(text: str, tool: str) -> list[list[str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    return [shlex.split(line, comments=True) for line in joined.splitlines()
            if line.strip().startswith(tool + " ")]


def _at(argv: list[str], port: int, prefix: str) -> list[str]:
    """A README command line pointed at this test's broker and prefix."""
    out = [_tool(argv[0]), "-p", str(port)]
    for arg in argv[1:]:
        out.append(prefix + arg.removeprefix("ocpp/") if arg.startswith("ocpp/") else arg)
    return out


async def test_startup_line_and_mosquitto_sub(tmp_path: Path) -> None:
    """`make run`'s line, for the ports this test takes; the Admin API section quotes its end;
    `mosquitto_sub -h 127.0.0.1 -t 'ocpp/#' -v` then shows the gateway's status."""
    readme_line = re.search(r"`make run` prints one line.*?\n```\n(.*?)\n```", README,
                            re.DOTALL)
    assert readme_line
    line = readme_line.group(1)
    quoted = re.search(r"The start-up line ends with its address:\s+`\.\.\.(.*?)`",
                       section("Admin API and metrics"))
    assert quoted and line.endswith(quoted.group(1)), "the Admin API section quotes another line"
    ws, broker, api = free_port(), free_port(), free_port()
    proc = await start("--listen", f"127.0.0.1:{ws}", "--embedded-listen", f"127.0.0.1:{broker}",
                       "--admin-listen", f"127.0.0.1:{api}", "--gateway-id", "readme",
                       "--store", str(tmp_path / "s.sqlite3"))
    try:
        shown = (await first_line(proc)).rstrip("\n")
        expected = (line.replace("0.0.0.0:9000", f"127.0.0.1:{ws}")
                    .replace("127.0.0.1:1883", f"127.0.0.1:{broker}")
                    .replace("127.0.0.1:8080", f"127.0.0.1:{api}"))
        assert shown == expected
        sub = re.search(r"`(mosquitto_sub [^`]*)`", README[:2000])
        assert sub
        out = await _run([*_at(shlex.split(sub.group(1)), broker, "ocpp/"), "-C", "1",
                          "-W", "5"])
        topic, payload = out.split(" ", 1)
        assert topic == "ocpp/gateway/readme/status"
        assert orjson.loads(payload)["status"] == "online"
    finally:
        await stop(proc)



async def test_held_message_example(make_gateway: Any, backend: Any, mosquitto: Any) -> None:
    heading = "Commands for charge points that are not connected"
    pub = _readme_commands(block_after(heading, "mosquitto_pub", lang=""), "mosquitto_pub")
    ack_example = json_objects(block_after(heading, "mosquitto_pub"))[0]
    gw = await make_gateway()
    await backend.subscribe(gw.prefix + "cs/CP001/Ack")
    await asyncio.sleep(0.2)  # the shared subscription of answer_offline
    await _run(_at(pub[0], mosquitto.port, gw.prefix))
    ack = await backend.wait_for(gw.prefix + "cs/CP001/Ack")
    assert_same_shape(ack_example, ack)
    assert {k: v for k, v in ack.items() if k not in ("Timestamp", "ExpiresAt")} == {
        k: v for k, v in ack_example.items() if k not in ("Timestamp", "ExpiresAt")}
    assert ack["ExpiresAt"] - ack["Timestamp"] == pytest.approx(3_600_000, abs=2000)
    # the message waits, retained, on the held topic
    await backend.subscribe(gw.prefix + "held/CP001/#")
    for _ in range(100):
        held = [p for t, p, _ in backend.messages if t.startswith(gw.prefix + "held/CP001/")]
        if held:
            break
        await asyncio.sleep(0.05)
    assert held and orjson.loads(held[0])["UniqueId"] == ack_example["UniqueId"]


async def test_credentials_over_mqtt_example(make_gateway: Any, backend: Any,
                                             mosquitto: Any) -> None:
    heading = "Provisioning over MQTT and the admin API"
    text = section(heading)
    setting = re.search(r'`credentials_topic = "(.*?)"`', text)
    assert setting
    block = block_after(heading, "mosquitto_pub", lang="sh")
    pubs = _readme_commands(block, "mosquitto_pub")
    shown = re.search(r"# ocpp/admin/credentials/result: (\{.*\})", block)
    assert len(pubs) == 4 and shown
    gw = await make_gateway(credentials_topic=setting.group(1))
    result = gw.prefix + setting.group(1) + "/result"
    await backend.subscribe(result)
    answers = []
    for argv in pubs:
        await _run(_at(argv, mosquitto.port, gw.prefix))
        answers.append(await backend.wait_for(result))
    assert answers[0] == orjson.loads(shown.group(1))
    assert [a["ok"] for a in answers] == [True] * 4, answers
    assert [a["id"] for a in answers] == ["r1", "r2", "r3", "r4"]
    secrets = re.findall(r'"(?:password|key)":"([^"]+)"', block)
    assert len(secrets) == 2
    assert not [s for s in secrets for a in answers if s in orjson.dumps(a).decode()]


async def test_taken_port_messages(tmp_path: Path) -> None:
    """The two taken-port errors the README quotes, word for word (ports moved)."""
    embedded = re.search(r"`(ocpp-mqtt: config error: embedded_listen: [^`]*)`", README)
    admin_taken = re.search(r"`(ocpp-mqtt: config error: admin_listen: cannot listen [^`]*)`",
                            README)
    assert embedded and admin_taken
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = await run_to_end("--listen", "127.0.0.1:0", "--embedded-listen",
                                     f"127.0.0.1:{port}", "--admin-listen", "off")
        assert code == 2
        assert embedded.group(1).replace("1883", str(port)) in err.splitlines()
        code, err = await run_to_end("--listen", "127.0.0.1:0", "--admin-listen",
                                     f"127.0.0.1:{port}", "--embedded-listen",
                                     f"127.0.0.1:{free_port()}",
                                     "--store", str(tmp_path / "s.sqlite3"))
        assert code == 2
        assert admin_taken.group(1).replace("8080", str(port)) in err.splitlines()
