"""Dockerfile, compose.yaml and .dockerignore stay consistent with the code, read from the
files: the entry point exists, the ports are the defaults, every OCPP_MQTT_* variable is a real
setting, the user is not root. tests/packaging builds and runs the image (`make docker-test`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from ocpp_mqtt.config import Settings, load_settings, parse_hostport

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for word, rest in instructions():
        if word == "FROM":
            found.append([])
        if found:
            found[-1].append((word, rest))
    return found


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for word, rest in stage:
        if word == "ENV":
            env.update(dict(re.findall(r"([A-Z_0-9]+)=(\S+)", rest)))
    return env


def setting_of(variable: str) -> str:
    name = variable.removeprefix("OCPP_MQTT_").lower()
    assert variable.startswith("OCPP_MQTT_") and name in Settings.model_fields, (
        f"{variable} is no setting: settings are OCPP_MQTT_<NAME> for the fields of "
        "src/ocpp_mqtt/config/")
    return name


def test_multi_stage_on_python_slim() -> None:
    """Both stages on one base, python:3.11-slim unless the build names another (the image
    tests build on a Debian base: tests/packaging); no BuildKit-only syntax, no frontend
    image to pull (`# syntax=`)."""
    found = stages()
    assert len(found) >= 2, "build the environment in one stage, copy it into another"
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.split("\nFROM ")[0], re.MULTILINE))
    assert args.get("PYTHON_IMAGE") == "python:3.11-slim"
    for stage in found:
        assert stage[0][1].split()[0] == "${PYTHON_IMAGE}"
    assert "COPY --from=build /opt/ocpp-mqtt /opt/ocpp-mqtt" in DOCKERFILE
    assert "--mount=" not in DOCKERFILE and "# syntax=" not in DOCKERFILE


def test_runs_the_console_script_of_the_package() -> None:
    final = stages()[-1]
    entry = [rest for word, rest in final if word == "ENTRYPOINT"]
    cmd = [rest for word, rest in final if word == "CMD"]
    assert entry == ['["ocpp-mqtt"]'] and cmd == ['["serve"]']
    assert PYPROJECT["project"]["scripts"]["ocpp-mqtt"] == "ocpp_mqtt.cli:main"
    from ocpp_mqtt.cli import build_parser

    assert build_parser().parse_args(["serve"]).command == "serve"


def test_user_is_not_root() -> None:
    users = [rest for word, rest in stages()[-1] if word == "USER"]
    assert users, "the final stage needs a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    assert user.isdigit(), "a numeric user lets Kubernetes check runAsNonRoot"
    assert f"--uid {user}" in DOCKERFILE  # and that user exists in the image
    # it owns the volume where the store lives
    assert "chown ocpp:ocpp /data" in DOCKERFILE


def test_environment_names_are_settings_with_valid_values() -> None:
    env = env_of(stages()[-1])
    values = {setting_of(k): v for k, v in env.items() if k.startswith("OCPP_MQTT_")}
    assert values, "configure the container through OCPP_MQTT_* variables"
    settings = load_settings(None, **values)  # each value valid for its setting
    assert settings.store == Path("/data/ocpp-mqtt.sqlite3")
    assert re.search(r"^VOLUME /data$", DOCKERFILE, re.MULTILINE)


def test_exposed_ports_are_the_default_ports() -> None:
    exposed = {int(p) for word, rest in stages()[-1] if word == "EXPOSE"
               for p in rest.split()}
    listen_port = parse_hostport(str(Settings.model_fields["listen"].default), "listen")[1]
    env_listen = env_of(stages()[-1]).get("OCPP_MQTT_LISTEN")
    if env_listen:
        assert parse_hostport(env_listen, "listen")[1] == listen_port
    expected = {listen_port}
    admin = Settings.model_fields.get("admin_listen")
    if admin is not None:
        expected.add(parse_hostport(str(admin.default), "admin_listen")[1])
    else:  # the admin API (issue 4) is not in this tree yet: its announced port 8080
        expected.add(8080)
    assert exposed == expected


def test_healthcheck_probes_the_health_endpoint_with_python() -> None:
    checks = [rest for word, rest in stages()[-1] if word == "HEALTHCHECK"]
    assert len(checks) == 1
    check = checks[0]
    assert check.endswith('CMD ["python", "-m", "ocpp_mqtt.healthcheck"]')
    assert "curl" not in check and "wget" not in check
    from ocpp_mqtt.healthcheck import probe_url
    from ocpp_mqtt.transport.websocket import PROBES

    assert "/health" in PROBES
    assert probe_url(None) == "http://127.0.0.1:9000/health"  # the image's defaults


def test_compose_has_mosquitto_with_nodelay_and_the_gateway() -> None:
    services = COMPOSE["services"]
    broker = services["mosquitto"]
    assert broker["image"].startswith("eclipse-mosquitto:")
    mounted = [v.split(":") for v in broker["volumes"]]
    conf = next(src for src, dst, *_ in mounted if dst == "/mosquitto/config/mosquitto.conf")
    text = (ROOT / conf).read_text()
    assert re.search(r"^set_tcp_nodelay true$", text, re.MULTILINE)
    assert re.search(r"^listener 1883$", text, re.MULTILINE)

    gateway = services["ocpp-mqtt"]
    assert gateway["build"] == "."
    # started once Mosquitto answers (the gateway exits when no broker answers at start-up)
    assert gateway["depends_on"]["mosquitto"] == {"condition": "service_healthy"}
    assert broker["healthcheck"]["test"][:2] == ["CMD", "mosquitto_sub"]
    env = gateway["environment"]
    values = {setting_of(k): str(v) for k, v in env.items()}
    settings = load_settings(None, **values)
    target = settings.mqtt_target
    assert (target.host, target.port) == ("mosquitto", 1883)
    ports = {int(p.split(":")[-1]) for p in gateway["ports"]}
    assert ports <= {p for w, r in stages()[-1] if w == "EXPOSE" for p in map(int, r.split())}
    assert any(v.endswith(":/data") for v in gateway["volumes"])


def test_dockerignore_keeps_the_build_context_small() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for name in (".git", ".venv", "tests", "dist", "**/__pycache__", ".cache"):
        assert name in ignored
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.MULTILINE)
    for sources in copied:  # what the build copies is not ignored
        for source in sources.split():
            assert source not in ignored and (ROOT / source).exists(), source
