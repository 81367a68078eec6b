"""Secrets out of OCPP-J frames before they are written to the frame log (no I/O).

What counts as a secret, in any message of any version, wherever it appears in the payload:

- 1.6 configuration key `AuthorizationKey` (ChangeConfiguration, GetConfiguration results):
  the `value` beside `"key": "AuthorizationKey"`;
- 2.x device-model variables whose name says password/key/PIN (`BasicAuthPassword`,
  2.1 `NetworkConfiguration` `ApnPassword`, `VpnPassword`, `VpnKey`, `SimPin`, ...):
  `attributeValue` (SetVariables, GetVariables results) and `variableAttribute[].value`
  (NotifyReport) beside such a `variable.name`;
- fields named like a password or PIN (`password`, `apnPassword`, `basicAuthPassword`,
  `simPin` in SetNetworkProfile connection data) and the VPN shared secret `vpn.key`;
- any string holding a PEM private key (`-----BEGIN ... PRIVATE KEY-----`).

Not recognised: secrets inside vendor DataTransfer data (free-form), see README "Frame log".
The redaction is structural; a frame that is not JSON cannot be walked, so it is replaced
entirely when it mentions anything secret-looking.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

MASK = "***"

_SECRET_NAME = re.compile(r"password|passwd|secret|simpin|privatekey|authorizationkey|vpnkey",
                          re.IGNORECASE)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# Searched in the text lower-cased without "_": a frame where none of these appears holds no
# secret by the rules above, and is logged without being parsed (most frames: meter values,
# status). Plain substring tests: several times faster than one regex alternation.
_MENTIONS_SECRET = ("password", "passwd", "secret", "simpin", "privatekey", "private key",
                    "authorizationkey", "vpnkey", '"key"')


def _may_hold_secret(text: str) -> bool:
    # A JSON escape (\u0070assword) could spell a name the search would miss: walk those.
    if "\\u" in text:
        return True
    flat = text.lower().replace("_", "")
    return any(word in flat for word in _MENTIONS_SECRET)


def _secret_name(name: Any) -> bool:
    return isinstance(name, str) and _SECRET_NAME.search(name.replace("_", "")) is not None


def _walk(node: Any, parent_key: str | None) -> tuple[Any, bool]:
    """The node with its secrets masked, and whether anything was masked."""
    if isinstance(node, str):
        if _PRIVATE_KEY.search(node):
            return MASK, True
        return node, False
    if isinstance(node, list):
        changed = False
        items = []
        for item in node:
            new, hit = _walk(item, parent_key)
            items.append(new)
            changed |= hit
        return items, changed
    if not isinstance(node, dict):
        return node, False
    changed = False
    out: dict[str, Any] = {}
    # Name/value pairs: 1.6 {"key": "AuthorizationKey", "value": ...}; 2.x
    # {"variable": {"name": "BasicAuthPassword"}, "attributeValue": ...}.
    variable = node.get("variable")
    pair_secret = _secret_name(node.get("key")) or (
        isinstance(variable, dict) and _secret_name(variable.get("name")))
    for key, value in node.items():
        secret_field = (
            (_secret_name(key) and isinstance(value, str | int))
            or (parent_key == "vpn" and key == "key")
            or (pair_secret and key in ("value", "attributeValue"))
        )
        if secret_field and value not in ("", None):
            out[key] = MASK
            changed = True
            continue
        if pair_secret and key == "variableAttribute" and isinstance(value, list):
            out[key] = [{**a, "value": MASK} if isinstance(a, dict) and "value" in a else a
                        for a in value]
            changed = True
            continue
        new, hit = _walk(value, key)
        out[key] = new
        changed |= hit
    return out, changed


def redact_frame(text: str) -> str:
    """The frame as sent when it holds no secret (byte for byte), else re-serialised with
    every secret replaced by "***"."""
    if not _may_hold_secret(text):
        return text
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return f"<not JSON, {len(text)} characters, withheld: it may hold a secret>"
    new, changed = _walk(frame, None)
    return orjson.dumps(new).decode() if changed else text
