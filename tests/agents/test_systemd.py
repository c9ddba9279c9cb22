"""The shipped systemd files, checked by systemd's own tools (`systemd-analyze`,
`systemd-sysusers`), and the Pi install guide naming only files that ship."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.conftest import REPO

UNITS = REPO / "edge_agents" / "bobby_edge" / "systemd"
VENV = "/opt/bobby/venv"  # where docs/install-pi.md puts the agents
SECURITY_AT_MOST = 4.0  # "OK" in systemd-analyze's words; the first units scored 8.6 "EXPOSED"

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")


def analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], check=False, capture_output=True, text=True, cwd=cwd, timeout=60
    )


def unit_copy(name: str, folder: Path) -> Path:
    """The unit with its ExecStart's venv replaced by this lane's, so `verify` finds a real
    `bobby-edge` entry point (the rest of the unit as shipped)."""
    text = (UNITS / name).read_text()
    assert f"ExecStart={VENV}/bin/bobby-edge " in text
    (folder / name).write_text(text.replace(f"{VENV}/bin/", f"{Path(sys.executable).parent}/"))
    return folder / name


@needs_systemd
@pytest.mark.parametrize("unit", ["bobby-camera.service", "bobby-detector.service"])
def test_units_verify_and_are_hardened(unit: str, tmp_path: Path) -> None:
    unit_copy(unit, tmp_path)
    verified = analyze("verify", unit, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == "", verified.stderr
    security = analyze("security", "--offline=true", unit, cwd=tmp_path)
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert exposure, security.stdout + security.stderr
    assert float(exposure.group(1)) <= SECURITY_AT_MOST, security.stdout


def settings(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (UNITS / unit).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_the_camera_still_reaches_its_devices_and_state() -> None:
    camera = settings("bobby-camera.service")
    # V4L2 webcams and the Pi camera's nodes, the media controller, picamera2's DMA buffers.
    assert {"char-video4linux rw", "char-media rw", "char-dma_heap rw"} <= set(camera["DeviceAllow"])
    assert camera["SupplementaryGroups"] == ["video"]
    assert "PrivateDevices" not in camera  # it would hide /dev/video*
    assert "PrivateUsers" not in camera  # the video group would not map into the namespace
    for unit in ("bobby-camera.service", "bobby-detector.service"):
        found = settings(unit)
        assert found["StateDirectory"] == ["bobby"], unit  # STATE_DIRECTORY: state, spool, models
        assert found["User"] == ["bobby"], unit
        assert found["ProtectSystem"] == ["strict"], unit


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="no systemd-sysusers here")
def test_the_user_is_created_again_without_failing(tmp_path: Path) -> None:
    """`useradd` failed on the second agent of one Pi; sysusers is idempotent."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "group").write_text("video:x:44:\n")  # as on Raspberry Pi OS
    for _ in range(2):
        done = subprocess.run(
            ["systemd-sysusers", f"--root={tmp_path}", str(UNITS / "bobby.sysusers")],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text()
    assert re.search(r"^bobby:x:\d+:\d+:[^:]*:/var/lib/bobby:", passwd, re.MULTILINE)
    assert "video:x:44:bobby" in (tmp_path / "etc" / "group").read_text()


SHIPPED = re.compile(r"bobby_edge/systemd/([\w.\-]+)")


@pytest.mark.parametrize(
    "text",
    [
        REPO / "docs" / "install-pi.md",
        REPO / "docs" / "detector.md",
        REPO / "README.md",
        *sorted((REPO / "edge_agents" / "bobby_edge" / "systemd").iterdir()),
    ],
    ids=lambda p: p.name,
)
def test_install_text_names_only_shipped_files(text: Path) -> None:
    named = set(SHIPPED.findall(text.read_text()))
    named |= {m for m in re.findall(r"^#\s+sudo (?:cp|install) .*?([\w.\-]+) /etc", text.read_text(), re.M)}
    missing = sorted(n for n in named if not (UNITS / n).exists())
    assert not missing, f"{text.name} names {missing}, which do not ship in bobby_edge/systemd/"
