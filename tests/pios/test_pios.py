"""Raspberry Pi OS as an owner meets it: Debian bookworm and trixie roots (scripts/setup
pios) with apt's Python, numpy, Pillow and PyAV (and on trixie paho-mqtt); the built
wheel installed with the commands of docs/install-pi.md (one venv with system
site-packages, camera and detector from one pip command); then the camera (images
source, recording on) and the detector run in that root against a broker, and pip has
replaced nothing apt provides.

Pi OS is Debian plus Raspberry Pi's own packages (picamera2, libcamera), which Debian
does not have: the picamera source is not run here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.camera_support import write_samples
from tests.agents.recording_support import Core
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.processes import stop_all

REPO = Path(__file__).resolve().parents[2]
ROOTS = [Path(p) for p in os.environ.get("BOBBY_PIOS_ROOTS", "").split()]
VENV = "/opt/bobby/venv"  # docs/install-pi.md's
DIST_PACKAGES = "/usr/lib/python3/dist-packages"
WORK = "/tmp/bobby-pios"  # inside the root
UV = Path(sys.executable).parent / "uv"


@pytest.fixture(scope="module", params=ROOTS or [None], ids=lambda r: r.name if r else "none")
def root(request: pytest.FixtureRequest) -> Path:
    path: Path | None = request.param
    if path is None or not (path / "usr/bin/python3").exists() or os.geteuid() != 0:
        pytest.skip("needs the Debian roots (scripts/setup pios) and root")
    return path


def in_root(root: Path, command: str, **popen: object) -> subprocess.Popen[bytes]:
    """`bash -c command` inside the root (its own /proc and the host's /dev, in a private
    mount namespace that disappears with it); the host's network, so its broker is on
    127.0.0.1."""
    script = """
        set -e; root=$1; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        cp /etc/resolv.conf /etc/hosts "$root/etc/"
        cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
        exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PYTHONUNBUFFERED=1 \
          PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
          PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore BOBBY_STATE_DIR=/tmp/bobby-pios/state \
          bash -c "$1"
    """
    args = ["unshare", "--mount", "--propagation", "private", "bash", "-c", script, "in_root"]
    args += [str(root), command]
    return subprocess.Popen(args, **popen)  # type: ignore[call-overload]


def run_in_root(root: Path, command: str, timeout: float = 900) -> str:
    proc = in_root(root, command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{command}\n{out.decode()}"
    return str(out.decode())


def documented_install(wheel: str) -> list[str]:
    """The venv and pip commands of docs/install-pi.md, step 2, with the registry's package
    replaced by the built wheel (what the registry would serve)."""
    text = (REPO / "docs" / "install-pi.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    (block,) = [b for b in blocks if "python3 -m venv" in b]
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    commands = [line.removeprefix("sudo ") for line in lines if line and not line.startswith("#")]
    assert any("'bobby-edge[detector]'" in c for c in commands), commands  # one command, both agents
    return [c.replace("'bobby-edge[detector]'", f"'{wheel}[detector]'") for c in commands]


@pytest.fixture(scope="module")
def installed(root: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The agents installed in the root as the docs say; returns pip's log."""
    source = tmp_path_factory.mktemp("source") / "edge_agents"
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    shutil.copytree(REPO / "edge_agents", source, ignore=ignore)
    work = root / WORK.lstrip("/")
    shutil.rmtree(work, ignore_errors=True)
    (work / "dist").mkdir(parents=True)
    subprocess.run(
        [str(UV), "build", "--wheel", "--quiet", "--out-dir", str(work / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = (work / "dist").glob("*.whl")
    model = Path(os.environ.get("BOBBY_MODEL_DIR", "")) / "deeplabv3.tflite"
    shutil.copy(model, work / "deeplabv3.tflite")
    write_samples(work / "images")
    commands = documented_install(f"{WORK}/dist/{wheel.name}")
    return run_in_root(root, f"rm -rf {VENV} && " + " && ".join(commands))


def distributions(root: Path, pattern: str) -> set[str]:
    """Normalised names of the distributions installed in the root's site-packages folders."""
    names = set()
    for info in root.glob(f"{pattern.lstrip('/')}/*-*.*-info"):  # name-version.dist-info / .egg-info
        names.add(re.sub(r"[-_.]+", "-", info.name.split("-", 1)[0]).lower())
    return names


def test_pip_replaced_no_apt_package(root: Path, installed: str) -> None:
    from_pip = distributions(root, f"{VENV}/lib/python3*/site-packages")
    from_apt = distributions(root, DIST_PACKAGES)
    assert {"numpy", "pillow", "av"} <= from_apt
    assert {"bobby-edge", "ai-edge-litert"} <= from_pip  # the install did happen
    assert not from_pip & from_apt, f"pip installed over apt: {sorted(from_pip & from_apt)}"
    # The docs' own check: every path printed is apt's.
    text = (REPO / "docs" / "install-pi.md").read_text()
    (check,) = re.findall(r"^(/opt/bobby/venv/bin/python -c .*)$", text, re.MULTILINE)
    paths = run_in_root(root, check).split()
    assert len(paths) == 3
    assert all(path.startswith(DIST_PACKAGES) for path in paths), paths


@pytest.fixture
def agents(installed: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    stop_all(started)


def test_camera_and_detector_work_on_apts_packages(
    root: Path, agents: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    probe = Probe(broker.port)
    core = Core(broker.port)  # Home Assistant's part of recording: keep and acknowledge chunks
    logs = {name: tmp_path / f"{name}.log" for name in ("camera", "detector")}
    try:
        probe.subscribe("bobby/#")
        common = f"--broker 127.0.0.1:{broker.port} --stats-interval 1"
        commands = {
            # Recording on (the default), as installed: PyAV is apt's 10.0.0.
            "camera": f"{VENV}/bin/bobby-edge camera {common} --id cam1 --source images:{WORK}/images "
            f"--fps 2 --width 320 --height 240 --spool-dir {WORK}/spool --pre-roll 1 --post-roll 2 "
            "--chunk-seconds 2",
            "detector": f"{VENV}/bin/bobby-edge detector {common} --id det1 --model {WORK}/deeplabv3.tflite",
        }
        for name, command in commands.items():
            agents.append(
                in_root(root, f"exec {command}", stdout=logs[name].open("wb"), stderr=subprocess.STDOUT)
            )

        def everything() -> str:
            return "\n".join(f"--- {n}\n{p.read_text()}" for n, p in logs.items())

        info = json.loads(probe.on_topic("bobby/camera/cam1/info", timeout=60).payload)
        assert "record" in info["capabilities"], everything()
        # The detector analyses the camera's frames and finds the astronaut ...
        probe.wait_for(lambda m: m.topic == "bobby/camera/cam1/detection", 90, 0)
        # ... which starts a recording on the camera: a chunk reaches the core.
        try:
            core.wait(lambda: len(core.unique()) >= 1, 90, "a chunk recorded with apt's PyAV")
        except TimeoutError as err:
            raise AssertionError(f"{err}\n{everything()}") from None
        stats = probe.wait_for(
            lambda m: m.topic == "bobby/detector/det1/stats" and json.loads(m.payload)["frames_analysed"] > 0,
            30,
            0,
        )
        assert json.loads(stats.payload)["frames_analysed"] > 0
        for proc in agents:
            assert proc.poll() is None, everything()
        assert "Traceback" not in everything(), everything()
    finally:
        core.close()
        probe.close()
        stop_all(agents, grace=20)
        broker.stop()
