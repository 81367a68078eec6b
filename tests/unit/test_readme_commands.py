"""Every command line and TOML snippet of README.md and docs/ still parses: `ocpp-mqtt serve`
lines (and `make run ARGS=...`) go through `check-config` with the same flags, TOML snippets
through `check-config --config`, `simulate` and `credentials` lines through their own parsers.
A renamed flag or option fails here with the line that uses it."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from ocpp_mqtt.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "examples").glob("*/README.md"))]
FENCE = re.compile(r"^ *```([a-z]*)\n(.*?)^ *```", re.MULTILINE | re.DOTALL)


def _shell_lines(text: str) -> list[str]:
    """Command lines of the code blocks and of `inline code`: continuations joined, prompts,
    comments and `.venv/bin/` dropped."""
    lines: list[str] = []
    for m in FENCE.finditer(text):
        if m.group(1) not in ("", "sh", "ini"):
            continue
        joined = re.sub(r"\\\n\s*", " ", m.group(2))
        lines += [line.strip().removeprefix("$ ") for line in joined.splitlines()]
    lines += re.findall(r"`((?:ocpp-mqtt|make run) [^`]*)`", text)
    found = []
    for line in lines:
        line = re.sub(r"^ExecStart=\S*/", "", line).replace(".venv/bin/", "")
        if line.startswith(("ocpp-mqtt ", "make run ")):
            found.append(shlex.split(line, comments=True))
    return found


SUBCOMMANDS = ("serve", "check-config", "simulate", "credentials")


def _label(doc: Path) -> str:
    """README.md, production.md, home-assistant/README.md: short, and unique."""
    return doc.name if doc.name != "README.md" or doc.parent == ROOT else \
        f"{doc.parent.name}/{doc.name}"


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for doc in DOCS:
        for argv in _shell_lines(doc.read_text()):
            if argv[0] == "make":  # make run ARGS="--mode central"
                args = next((a.split("=", 1)[1] for a in argv if a.startswith("ARGS=")), "")
                argv = ["ocpp-mqtt", "serve", *shlex.split(args)]
            if argv[1] not in SUBCOMMANDS or argv[1:] == ["credentials"]:
                continue  # prose or output quoted in code (`ocpp-mqtt simulate: error: ...`)
            found.append((f"{_label(doc)}: {shlex.join(argv)}", argv[1:]))
    return found


def _config_file(where: str, path: str) -> str:
    """The file of that name beside the document (examples/), the TOML block of the document
    that begins with `# <path>`, else nothing."""
    doc = next(d for d in DOCS if where.startswith(_label(d) + ":"))
    if (doc.parent / path).is_file() and doc.parent != ROOT:
        return (doc.parent / path).read_text()
    for m in FENCE.finditer(doc.read_text()):
        if m.group(1) == "toml" and m.group(2).startswith(f"# {path} "):
            return m.group(2)
    return ""


COMMANDS = _commands()


def test_the_docs_have_commands() -> None:
    kinds = {argv[0] for _, argv in COMMANDS}
    assert {"serve", "check-config", "simulate", "credentials"} <= kinds, kinds
    assert len(COMMANDS) >= 25, len(COMMANDS)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_command_line_parses(where: str, argv: list[str], in_tmp: Path,
                             capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    command = argv[0]
    if command in ("serve", "check-config"):
        if "--config" in argv:  # the file the document shows, else an empty one
            index = argv.index("--config") + 1
            local = in_tmp / argv[index].lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            # a container's volume (/data) is this test's directory
            local.write_text(_config_file(where, argv[index]).replace('"/data/', f'"{in_tmp}/'))
            argv = [*argv[:index], str(local), *argv[index + 1:]]
        status = main(["check-config", *argv[1:]])
        out = capsys.readouterr()
        assert status == 0, f"{where}\n{out.out}{out.err}"
    elif command == "credentials":  # run for real on a store in the temporary directory
        import io

        (in_tmp / "fleet.csv").write_text("identity,password\nCP001,a-16-to-40-char-password\n")
        assert main(["credentials", "import", "fleet.csv"]) == 0
        secret = "0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF" if "--key" in argv else "x" * 20
        monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
        status = main(argv)
        out = capsys.readouterr()
        assert status == 0, f"{where}\n{out.out}{out.err}"
    else:  # simulate: the flags parse and pass its checks (running it needs a server)
        from ocpp_mqtt.simulate.options import from_args

        from_args(build_parser().parse_args(argv))


def _toml_snippets() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for m in FENCE.finditer(text):
            if m.group(1) == "toml":
                line = text.count("\n", 0, m.start()) + 1
                found.append((f"{doc.name}:{line}", m.group(2)))
    return found


SNIPPETS = _toml_snippets()


@pytest.mark.parametrize(("where", "snippet"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_toml_snippet_is_a_valid_config(where: str, snippet: str, in_tmp: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """check-config takes each snippet; the certificates it names are made for it (a CA and
    server certificates of the kind their names say)."""
    from tests.certs import Pki

    for path in set(re.findall(r'"(/etc/[^"]+)"', snippet)):
        local = in_tmp / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        snippet = snippet.replace(f'"{path}"', f'"{local}"')
        pki = Pki(local.parent)
        if local.stem.endswith("ca"):
            local.write_bytes(pki.path.read_bytes())
        elif not local.exists():
            pki.issue(local.stem, "localhost", server=True,
                      kind="ec" if "ecdsa" in local.stem else "rsa")
    config = in_tmp / "snippet.toml"
    config.write_text(snippet)
    status = main(["check-config", "--config", str(config)])
    out = capsys.readouterr()
    assert status == 0, f"{where}\n{snippet}\n{out.out}{out.err}"


def _variables() -> list[tuple[str, str, str]]:
    found = set()
    for doc in DOCS:
        for name, value in re.findall(r"(OCPP_MQTT_[A-Z_]+)=([^`\s)]+)", doc.read_text()):
            found.add((doc.name, name, value.replace("<identity>", "CP1")))
    return sorted(found)


VARIABLES = _variables()


@pytest.mark.parametrize(("where", "name", "value"), VARIABLES,
                         ids=[f"{w}:{n}" for w, n, _ in VARIABLES])
def test_environment_examples_are_accepted(where: str, name: str, value: str, in_tmp: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Each `OCPP_MQTT_X=value` of the docs names an option and is a value it takes (in the
    mode its page is about: ocpp2mqtt's pages with --compat, profiles in central mode)."""
    assert len(VARIABLES) >= 5
    monkeypatch.setenv(name, value)
    extra = (["--compat", "ocpp2mqtt"] if "ocpp2mqtt" in value or "ocpp2mqtt" in where
             else [])
    status = main(["check-config", *extra])
    out = capsys.readouterr()
    assert status == 0, f"{where}: {name}={value}\n{out.out}{out.err}"
