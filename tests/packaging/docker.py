"""The docker command line for the image tests: Debian's client (the engine's version, with
BuildKit built in), run without blocking the event loop, its failures shown in full."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]

# Built from Debian's archive by tests/packaging/base-images.sh (`make docker-images`).
PYTHON_IMAGE = "ocpp-mqtt-test/python:bookworm"
MOSQUITTO_IMAGE = "ocpp-mqtt-test/mosquitto:bookworm"

# Debian's docker.io client; the one some machines carry in /usr/local/bin is newer and wants
# the buildx plugin for BuildKit builds. DOCKER overrides it.
DOCKER = os.environ.get("DOCKER") or ("/usr/bin/docker" if os.path.exists("/usr/bin/docker")
                                      else shutil.which("docker") or "docker")


def environment() -> dict[str, str]:
    """BuildKit builds (as users get them), and Debian's client first on PATH for
    docker-compose, which runs `docker build` for its builds."""
    path = f"{Path(DOCKER).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "DOCKER_BUILDKIT": "1",
            "COMPOSE_DOCKER_CLI_BUILD": "1"}


class CommandFailed(AssertionError):
    pass


async def run(*argv: str, timeout: float = 60, check: bool = True,
              stdin: bytes | None = None) -> tuple[int, str]:
    """(exit status, stdout and stderr together) of a command; a failure shows its output."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=environment())
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise CommandFailed(f"{' '.join(argv)}: no end within {timeout} s") from None
    text = out.decode(errors="replace")
    assert proc.returncode is not None
    if check and proc.returncode != 0:
        raise CommandFailed(f"{' '.join(argv)} exited {proc.returncode}:\n{text[-4000:]}")
    return proc.returncode, text


async def docker(*args: str, timeout: float = 60, check: bool = True) -> str:
    return (await run(DOCKER, *args, timeout=timeout, check=check))[1].strip()


async def inspect(name: str, kind: str = "container") -> dict[str, Any]:
    found: list[dict[str, Any]] = orjson.loads(await docker(kind, "inspect", name))
    return found[0]


async def wait_healthy(container: str, timeout: float = 90) -> None:
    """Until Docker reports the container's health check `healthy`; its logs and the check's
    last answers if it does not (or the container stops)."""
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = (await inspect(container))["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return
        if not state.get("Running"):
            break
        await asyncio.sleep(0.5)
    logs = await docker("logs", "--tail", "40", container, check=False)
    raise AssertionError(f"{container} not healthy: {orjson.dumps(state).decode()}\n{logs}")
