"""The image tests run with `pytest --docker` (`make docker-test`, which installs and starts
the engine and builds the local base images first); a plain run skips them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .docker import DOCKER, MOSQUITTO_IMAGE, PYTHON_IMAGE, ROOT, environment


@pytest.fixture(scope="session", autouse=True)
def _docker_opted_in(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("--docker"):
        pytest.skip("the Docker image tests run with `make docker-test` (pytest --docker)")
    for image in (PYTHON_IMAGE, MOSQUITTO_IMAGE):
        found = subprocess.run([DOCKER, "image", "inspect", image], capture_output=True,
                               text=True, timeout=30)
        if found.returncode != 0:
            pytest.fail(f"{image}: {found.stderr.strip() or found.stdout.strip()}; "
                        "`make docker-test` starts the engine and builds it")


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The image built from this checkout's Dockerfile on the local Debian base (BuildKit,
    the host's network for pip): its id."""
    iidfile: Path = tmp_path_factory.mktemp("image") / "iid"
    built = subprocess.run(
        [DOCKER, "build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={PYTHON_IMAGE}",
         "--iidfile", str(iidfile), "-t", "ocpp-mqtt-test/ocpp-mqtt:latest", str(ROOT)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
        env=environment())
    assert built.returncode == 0, f"docker build failed:\n{built.stdout[-6000:]}"
    return iidfile.read_text().strip()
