"""`ocpp-mqtt credentials add|remove|list|import`: the store of charge point passwords.

Secrets never appear on the command line (where `ps` shows them) nor in any output: `add`
reads the password or key from standard input (a prompt on a terminal), or makes one with
`--generate` and prints it once, for the charge point's configuration.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path
from typing import Literal

from .config import ConfigError, load_settings
from .credentials import CredentialError, CredentialStore, Kind, generate, parse_import


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cred = sub.add_parser(
        "credentials", help="manage charge point passwords (security profiles 1 and 2)",
        description="Manage the hashed charge point passwords in credentials_store. The store "
        "is the setting's file (from --config, OCPP_MQTT_CREDENTIALS_STORE or "
        "--credentials-store).")
    cred.add_argument("--config", type=Path, default=None, help="TOML file with settings")
    cred.add_argument("--credentials-store", type=Path, default=None,
                      help="SQLite file (default: the credentials_store setting)")
    ops = cred.add_subparsers(dest="op", required=True)
    add = ops.add_parser("add", help="set the password (or 1.6 key) of a charge point; "
                         "reads it from stdin")
    add.add_argument("identity")
    add.add_argument("--key", action="store_true",
                     help="an OCPP 1.6 AuthorizationKey (32-40 hex digits) instead of a 2.x "
                     "password (16-40 characters)")
    add.add_argument("--generate", action="store_true",
                     help="make a strong random password (or key) and print it once")
    remove = ops.add_parser("remove", help="delete a charge point's credentials")
    remove.add_argument("identity")
    ops.add_parser("list", help="identities with credentials (never the secrets)")
    imp = ops.add_parser("import", help="add many from CSV (identity,password or "
                         "identity,key header) or JSON ([{identity, password | key}])")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=("csv", "json"), default=None,
                     help="default: from the file's extension")


def _store_path(args: argparse.Namespace) -> Path:
    if args.credentials_store is not None:
        return Path(args.credentials_store)
    return load_settings(args.config).credentials_store


def _read_secret(kind: Kind) -> str:
    what = "1.6 AuthorizationKey (hex)" if kind == "key" else "password"
    if sys.stdin.isatty():
        return getpass.getpass(f"{what}: ")
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace) -> int:
    try:
        store = CredentialStore(_store_path(args))
    except (ConfigError, CredentialError) as exc:
        print(f"ocpp-mqtt: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(store, args)
    except CredentialError as exc:
        print(f"ocpp-mqtt: credentials: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _run(store: CredentialStore, args: argparse.Namespace) -> int:
    if args.op == "add":
        kind: Kind = "key" if args.key else "password"
        secret = generate(kind) if args.generate else _read_secret(kind)
        store.set(args.identity, kind, secret)
        if args.generate:
            print(secret)  # the one time it is shown
        print(f"credentials set for {args.identity} ({kind})", file=sys.stderr)
        return 0
    if args.op == "remove":
        if not store.remove(args.identity):
            raise CredentialError(f"no credentials stored for {args.identity!r}")
        print(f"credentials removed for {args.identity}", file=sys.stderr)
        return 0
    if args.op == "list":
        for identity, stored_kind, updated in store.list():
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(updated))
            print(f"{identity}\t{stored_kind}\t{stamp}")
        return 0
    fmt: Literal["csv", "json"] = args.format or (
        "json" if args.file.suffix.lower() == ".json" else "csv")
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CredentialError(f"cannot read {args.file}: {exc.strerror}") from exc
    rows = parse_import(text, fmt)
    for identity, row_kind, secret in rows:
        store.set(identity, row_kind, secret)
    print(f"imported {len(rows)} credentials from {args.file}", file=sys.stderr)
    return 0
