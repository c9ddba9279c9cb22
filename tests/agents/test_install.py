"""The camera as an owner installs it: the built wheel in a fresh venv, no extras.

docs/install-pi.md says `pip install 'bobby-edge[detector]'` on the Pi; what the registry
would serve is the wheel built here. Recording is on by default, so the plain install must
record (PyAV is a dependency); an install that lost PyAV anyway (`--no-deps`, a broken apt
package) must still start, send frames and say once what to install — never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.camera_support import send_command, write_samples
from tests.agents.conftest import REPO
from tests.agents.recording_support import Core, publish_detection
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.processes import stop_all

TOPIC = "bobby/camera/cam1"
UV = Path(sys.executable).parent / "uv"  # the test extra's uv: installs from its cache in seconds


def uv(*args: str) -> None:
    subprocess.run([str(UV), *args], check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # From a copy: setuptools writes build/ and egg-info next to the sources, and lanes run at once.
    source = tmp_path_factory.mktemp("source") / "edge_agents"
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    shutil.copytree(REPO / "edge_agents", source, ignore=ignore, symlinks=False)
    out = tmp_path_factory.mktemp("dist")
    uv("build", "--wheel", "--quiet", "--out-dir", str(out), str(source))
    (built,) = out.glob("bobby_edge-*.whl")
    return built


def fresh_venv(folder: Path) -> Path:
    """A venv of this lane's Python, as `python3 -m venv` makes one; returns its python."""
    uv("venv", "--quiet", "--python", sys.executable, str(folder))
    return folder / "bin" / "python"


def dependencies(wheel: Path) -> list[str]:
    """The wheel's own requirements (no extras), read from its metadata."""
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(name).decode().splitlines()
    requires = [line.split(": ", 1)[1] for line in lines if line.startswith("Requires-Dist:")]
    return [r for r in requires if "extra ==" not in r]


@pytest.fixture
def camera(broker: Mosquitto, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    stop_all(started)


def start_camera(
    started: list[subprocess.Popen[bytes]], python: Path, broker: Mosquitto, tmp_path: Path
) -> Path:
    """`bobby-edge camera --source images:DIR` from the venv's own entry point, recording on
    (the default), with the environment an owner's shell has (no PYTHONPATH to this checkout)."""
    write_samples(tmp_path / "images")
    log = tmp_path / "camera.log"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONUNBUFFERED": "1"}
    args = ["--broker", broker.url, "--id", "cam1", "--source", f"images:{tmp_path / 'images'}"]
    args += ["--fps", "5", "--width", "320", "--height", "240", "--spool-dir", str(tmp_path / "spool")]
    args += ["--pre-roll", "1", "--post-roll", "1", "--chunk-seconds", "2"]
    started.append(
        subprocess.Popen(
            [str(python.parent / "bobby-edge"), "camera", *args],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,  # not the checkout: its edge_agents/ must not be what imports
        )
    )
    return log


def info(probe: Probe, proc: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    """The camera's announcement; a camera that exited fails at once, with its log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the camera exited ({proc.returncode}):\n{log.read_text()}"
        if probe.count(f"{TOPIC}/info"):
            return json.loads(probe.on_topic(f"{TOPIC}/info").payload)
        time.sleep(0.2)
    raise AssertionError(f"no info within 30 s:\n{log.read_text()}")


def test_the_plain_install_records(
    wheel: Path, broker: Mosquitto, probe: Probe, camera: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    python = fresh_venv(tmp_path / "venv")
    uv("pip", "install", "--quiet", "--python", str(python), str(wheel))
    probe.subscribe(f"{TOPIC}/#")
    core = Core(broker.port)
    try:
        log = start_camera(camera, python, broker, tmp_path)
        assert "record" in info(probe, camera[0], log)["capabilities"], log.read_text()  # type: ignore[operator]
        probe.on_topic(f"{TOPIC}/frame", timeout=15)
        publish_detection(probe, time.time())
        core.wait(lambda: len(core.unique()) >= 1, 30, "a chunk from the plain install")
    finally:
        core.close()
    assert camera[0].poll() is None, log.read_text()
    assert "Traceback" not in log.read_text()


def test_without_pyav_the_camera_starts_and_says_what_to_install(
    wheel: Path, broker: Mosquitto, probe: Probe, camera: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    python = fresh_venv(tmp_path / "venv")
    others = [r for r in dependencies(wheel) if not r.startswith("av")]
    uv("pip", "install", "--quiet", "--python", str(python), "--no-deps", str(wheel))
    uv("pip", "install", "--quiet", "--python", str(python), *others)
    probe.subscribe(f"{TOPIC}/#")
    log = start_camera(camera, python, broker, tmp_path)
    announced = info(probe, camera[0], log)
    for _ in range(3):
        probe.on_topic(f"{TOPIC}/frame", timeout=15, since=probe.mark())
    assert camera[0].poll() is None, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text
    assert "record" not in announced["capabilities"]  # type: ignore[operator]
    # Once, naming the fix: apt's package on the Pi, pip elsewhere.
    assert text.count("recording is off") == 1, text
    assert "sudo apt install python3-av" in text
    assert "pip install av" in text
    # Home Assistant's record action is refused with the same fix, not "without --no-record".
    refused = send_command(probe, {"id": "r1", "action": "record", "duration": 2}, timeout=10)
    assert refused["ok"] is False
    assert "sudo apt install python3-av" in refused["error"], refused
