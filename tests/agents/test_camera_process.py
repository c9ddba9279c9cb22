"""`bobby-edge camera` as a real process: clean shutdown, the last will, configuration errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.camera_support import TOPIC, jpeg_dimensions, write_samples
from tests.agents.conftest import REPO, spawn_agent
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

# A deadline for an agent process to start (imports, broker connection): generous, as the
# lanes run side by side on a loaded machine.
START_TIMEOUT = 60


def camera_args(broker: Mosquitto, folder: Path, *extra: str) -> list[str]:
    return [
        "camera",
        "--broker",
        broker.url,
        "--id",
        "cam1",
        "--source",
        f"images:{folder}",
        "--fps",
        "5",
        "--width",
        "320",
        "--height",
        "240",
        "--stats-interval",
        "1",
        "--no-record",  # recording's process tests are in test_recording_spool.py
        *extra,
    ]


def retained_status(broker: Mosquitto) -> bytes:
    """What a newcomer sees on the status topic."""
    fresh = Probe(broker.port)
    try:
        fresh.subscribe(f"{TOPIC}/status")
        return fresh.on_topic(f"{TOPIC}/status", timeout=5).payload
    finally:
        fresh.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_leaves_offline_retained(
    broker: Mosquitto,
    probe: Probe,
    agent_process: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    signum: signal.Signals,
) -> None:
    write_samples(tmp_path / "images")
    probe.subscribe(f"{TOPIC}/#")
    log = tmp_path / "agent.log"
    proc = spawn_agent(agent_process, *camera_args(broker, tmp_path / "images"), log=log)
    frame = probe.on_topic(f"{TOPIC}/frame", timeout=START_TIMEOUT)
    assert jpeg_dimensions(frame.payload) == (320, 240)
    assert retained_status(broker) == b"online"

    proc.send_signal(signum)
    assert proc.wait(10) == 0, log.read_text()
    assert retained_status(broker) == b"offline"
    assert "stopped" in log.read_text()


def test_last_will_on_sigkill(
    broker: Mosquitto,
    probe: Probe,
    agent_process: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    write_samples(tmp_path / "images")
    probe.subscribe(f"{TOPIC}/status")
    proc = spawn_agent(agent_process, *camera_args(broker, tmp_path / "images"), log=tmp_path / "agent.log")
    probe.wait_for(lambda m: m.payload == b"online", timeout=START_TIMEOUT)
    since = probe.mark()
    proc.kill()
    proc.wait(10)
    # The broker publishes the will as soon as the socket closes without a DISCONNECT.
    assert probe.on_topic(f"{TOPIC}/status", timeout=5, since=since).payload == b"offline"
    assert retained_status(broker) == b"offline"


def run_cli(*args: str, pythonpath: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOBBY_")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (*pythonpath, REPO / "edge_agents"))
    return subprocess.run(
        [sys.executable, "-m", "bobby_edge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--broker", "localhost:notaport"], "broker"),
        (["--broker", "localhost:70000"], "broker"),
        (["--fps", "100"], "fps"),
        (["--fps", "0"], "fps"),
        (["--id", "bad id!"], "id"),
        (["--jpeg-quality", "0"], "jpeg_quality"),
        (["--source", "webcam:0"], "source 'webcam:0' is not known"),
        (["--source", "images:/nonexistent/folder"], "does not exist"),
        (["--source", "http:ftp://cam/snap.jpg"], "full URL"),
    ],
)
def test_config_errors_exit_2_with_a_clear_message(args: list[str], words: str) -> None:
    result = run_cli("camera", "--broker", "127.0.0.1:1", *args)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_yaml_key_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "camera.yaml"
    config.write_text("broker: 127.0.0.1:1\nid: porch\nframerate: 5\n")
    result = run_cli("camera", "--config", str(config))
    assert result.returncode == 2
    assert "framerate: unknown option" in result.stderr


def test_broken_picamera2_exits_1_with_the_install_hint(tmp_path: Path) -> None:
    # As on a Pi where picamera2 came from pip without libcamera's Python bindings.
    (tmp_path / "picamera2").mkdir()
    (tmp_path / "picamera2" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'libcamera'\")\n"
    )
    result = run_cli("camera", "--broker", "127.0.0.1:1", "--source", "picamera", pythonpath=(tmp_path,))
    assert result.returncode == 1, result.stderr
    assert "libcamera" in result.stderr
    assert "sudo apt install python3-picamera2" in result.stderr
    assert "--system-site-packages" in result.stderr


def test_unusable_spool_folder_exits_1_with_the_fix(tmp_path: Path) -> None:
    write_samples(tmp_path / "images")
    (tmp_path / "a-file").write_text("not a folder")
    result = run_cli(
        "camera", "--broker", "127.0.0.1:1", "--source", f"images:{tmp_path / 'images'}",
        "--spool-dir", str(tmp_path / "a-file" / "spool"),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "--spool-dir" in result.stderr
    assert "Traceback" not in result.stderr
