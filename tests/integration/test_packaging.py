"""The wheel `make test` builds (`make wheel`): what is inside, and that it installs into a
fresh virtual environment and runs from there.

The fresh environment gets the wheel itself from the file (`pip install --no-index`); its
dependencies are not downloaded again (no network in a test): a .pth line lends it the test
environment's site-packages, after its own, which holds the dependencies pinned by
pyproject.toml. The editable install of this checkout in there is not picked up (a path added by
a .pth line is not itself scanned for .pth files), which the test checks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ocpp_mqtt import __version__
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NAME = f"ocpp_mqtt-{__version__}-py3-none-any.whl"


def _package_files() -> list[str]:
    """Every file of the package (what a wheel must carry), caches aside."""
    src = ROOT / "src"
    return sorted(str(p.relative_to(src)) for p in (src / "ocpp_mqtt").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".pyo"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/'s wheel when `make wheel` built it after the last change to the package, else
    one built now."""
    built = ROOT / "dist" / NAME
    sources = [ROOT / "pyproject.toml", *(ROOT / "src" / p for p in _package_files())]
    newest = max(p.stat().st_mtime for p in sources if p.exists())
    if built.exists() and built.stat().st_mtime >= newest:
        return built
    out = tmp_path_factory.mktemp("wheel")
    # setuptools reuses build/: a module since deleted from src/ would ship (as `make wheel`)
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(ROOT)], check=True, timeout=300)
    return out / NAME


def test_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(f"ocpp_mqtt-{__version__}.dist-info/METADATA").decode()
        entry_points = zf.read(f"ocpp_mqtt-{__version__}.dist-info/entry_points.txt").decode()
    package = sorted(n for n in names if not n.startswith(f"ocpp_mqtt-{__version__}.dist-info/"))
    # everything in the package (py.typed and any data file included), nothing else
    assert package == _package_files(), (
        "the wheel and src/ocpp_mqtt differ; a data file needs [tool.setuptools.package-data]: "
        f"missing {sorted(set(_package_files()) - set(package))}, "
        f"extra {sorted(set(package) - set(_package_files()))}")
    assert "ocpp_mqtt/py.typed" in names
    for name in names:
        assert not re.search(r"(^|/)(tests?|__pycache__|\.pytest_cache|\.mypy_cache)/", name)
        assert not name.endswith((".pyc", ".pyo", ".sqlite3")), name
    assert re.search(r"^\[console_scripts\]\nocpp-mqtt = ocpp_mqtt\.cli:main$", entry_points,
                     re.MULTILINE)
    assert f"\nVersion: {__version__}\n" in meta and "\nName: ocpp-mqtt\n" in meta
    assert "\nRequires-Python: >=3.11\n" in meta
    required = set(re.findall(r"^Requires-Dist: (.+)$", meta, re.MULTILINE))
    for dependency in PYPROJECT["project"]["dependencies"]:
        name = re.split(r"[<>=;!~ ]", dependency)[0]
        assert any(r.startswith(name) and "extra ==" not in r for r in required), dependency


def test_installs_into_a_fresh_venv_and_runs(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-index", "--no-deps", str(wheel)], check=True, timeout=300)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OCPP_MQTT_", "PYTHON", "VIRTUAL_ENV"))}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=env,
                              cwd=tmp_path)

    where = run(str(python), "-c", "import ocpp_mqtt, ocpp_mqtt.gateway, importlib.metadata as m;"
                " print(ocpp_mqtt.__file__); print(m.version('ocpp-mqtt'))")
    assert where.returncode == 0, where.stderr
    location, version = where.stdout.split()
    assert Path(location).is_relative_to(site), f"imported from {location}, not the wheel"
    assert version == __version__
    assert (Path(location).parent / "py.typed").exists()

    script = venv / "bin" / "ocpp-mqtt"
    assert script.exists(), "the console script was not installed"
    assert run(str(script), "--version").stdout.strip() == f"ocpp-mqtt {__version__}"
    checked = run(str(script), "check-config", "--config",
                  str(ROOT / "examples" / "ocpp-mqtt.toml"))
    assert checked.returncode == 0 and checked.stdout.startswith("ok"), checked.stderr
    bad = run(str(script), "check-config", "--qos", "7")
    assert bad.returncode == 2 and "--qos: qos = '7'" in bad.stderr


async def test_healthcheck_module_against_a_running_gateway(make_gateway: Any) -> None:
    """The container's HEALTHCHECK command: 0 while the gateway serves, 1 with the reason
    when nothing answers; the port comes from the settings, as `serve` reads them."""
    import asyncio

    gw = await make_gateway()

    async def healthcheck(port: int) -> tuple[int, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCPP_MQTT_")}
        env["OCPP_MQTT_LISTEN"] = f"0.0.0.0:{port}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocpp_mqtt.healthcheck", env=env,
            stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode is not None
        return proc.returncode, err.decode()

    assert await healthcheck(gw.port) == (0, "")
    code, err = await healthcheck(free_port())
    assert code == 1 and err.startswith("unhealthy: http://127.0.0.1:") and "/health" in err
