"""README "OCPP-J conformance": each row of the frame table, for each version, sent to a live
gateway; the CALLERROR code (or the silence) the README promises is what comes back. The rules
themselves are tested by id in test_raw_frames.py; this keeps the README's table true."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from tests.readme_examples import section

from .test_raw_frames import BOOT, CSMS_ONLY
from .wsutil import connect, no_frame, recv_json

VERSIONS = ["1.6", "2.0.1", "2.1"]


def _frames(row: str, proto: str) -> list[str]:
    """What the charge point sends for a row of the table (the last frame is the one judged)."""
    boot = BOOT[proto]
    bad_type = ('{"chargePointVendor":1,"chargePointModel":"M"}' if proto == "ocpp1.6" else
                '{"reason":"PowerUp","chargingStation":{"model":5,"vendorName":"V"}}')
    bad_enum = ('{"reason":"Bogus","chargingStation":{"model":"M","vendorName":"V"}}'
                if proto != "ocpp1.6" else None)
    action, payload = CSMS_ONLY[proto]

    table: dict[str, list[str]] = {
        "unknown action": ['[2,"x","FooBar",{}]'],
        "central-system action": [f'[2,"x","{action}",{payload}]'],
        "missing required field": ['[2,"x","BootNotification",{}]'],
        "extra property": [orjson.dumps([2, "x", "BootNotification",
                                         dict(boot, bogus=1)]).decode()],
        "wrong JSON type": [f'[2,"x","BootNotification",{bad_type}]'],
        "bad enum": [f'[2,"x","BootNotification",{bad_enum}]' if bad_enum else
                     '[2,"x","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                     '"status":"Bogus"}]'],
        "invalid JSON": ['[2,"x","Heartbeat",{'],
        "numeric id": ['[2,17,"Heartbeat",{}]'],
        "id longer than 36": [f'[2,"{"x" * 37}","Heartbeat",{{}}]'],
        "CALL with 5 elements": ['[2,"x","Heartbeat",{},{}]'],
        "`null` payload": ['[2,"x","Heartbeat",null]'],
        "SEND": ['[6,"x","NotifyPeriodicEventStream",{"id":1,"pending":0,'
                 '"basetime":"2026-01-01T00:00:00Z","data":[{"t":0,"v":"1"}]}]'],
        "unknown type": ['[7,"x","Heartbeat",{}]'],
        "duplicate id": ['[2,"x","Heartbeat",{}]', '[2,"x","Heartbeat",{}]'],
        "unsolicited CALLRESULT": ['[3,"nobody",{}]'],
        "CALLRESULTERROR": ['[5,"nobody","GenericError","",{}]'],
    }
    return next(frames for start, frames in table.items() if row.startswith(start))


def _rows() -> list[tuple[str, str, str]]:
    text = section("OCPP-J conformance")
    found = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("frame from the charge point", "---"):
            continue
        cells = [re.sub(r" `\[.*?\]`$", "", cells[0]), *cells[1:]]
        resolved: list[str] = []
        for cell in cells[1:]:
            resolved.append(resolved[-1] if cell == "same" else cell)
        found += [(cells[0], version, answer) for version, answer in
                  zip(VERSIONS, resolved, strict=True)]
    return found


ROWS = _rows()


def test_the_table_has_every_row() -> None:
    assert len(ROWS) == 16 * 3


@pytest.mark.parametrize(("row", "version", "answer"), ROWS,
                         ids=[f"{v}-{r[:30]}" for r, v, _ in ROWS])
async def test_conformance_row(gateway: Any, row: str, version: str, answer: str) -> None:
    proto = f"ocpp{version}"
    code = re.search(r"RpcFrameworkError|`(\w+)`", answer)
    async with connect(gateway.url("RC1"), [proto]) as ws:
        *before, judged = _frames(row, proto)
        for frame in before:
            await ws.send(frame)
        await ws.send(judged)
        if code is None:  # no reply, ignored, dropped, relayed, read as {}
            await no_frame(ws, 0.3)
            return
        reply = await recv_json(ws)
        expected = code.group(1) or code.group(0)
        assert reply[0] == 4 and reply[2] == expected, (row, version, reply)
        if 'id `"-1"`' in answer or '"-1"' in answer:
            assert reply[1] == "-1"
