"""The README's run command (`scripts/run` → `python -m bobby_demo`): it comes up with the
integration set up, the login it prints works, and Ctrl-C stops everything cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bobby_demo.hass import HassApi, HassInstance
from bobby_demo.processes import wait_until

from .conftest import REPO


def test_run_command_starts_everything_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'scripts'}:{REPO}"}
    stderr = (tmp_path / "stderr.log").open("wb")
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bobby_demo",
            "--run-dir",
            str(run_dir),
            "--hass-port",
            "0",
            "--broker-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        cwd=tmp_path,
    )
    try:
        login = run_dir / "login.txt"

        def started() -> bool:
            assert demo.poll() is None, (tmp_path / "stderr.log").read_text()
            return login.exists()

        # A deadline, generous: on a loaded machine (lanes side by side) Home Assistant's
        # first start, user and integrations take minutes.
        wait_until(started, 300, "the demo writes its login")
        fields = dict(line.split(" ", 1) for line in login.read_text().splitlines())

        # The printed login works, and the integration is set up and sees the agents.
        api = HassApi(fields["url"])
        api.login(fields["user"], fields["password"])
        assert api.wait_entry_loaded("bobby_camera")
        wait_until(
            lambda: (
                {"camera_demo-camera_person", "detector_demo-detector_connectivity"}
                <= {e["unique_id"] for e in api.entity_registry()}
            ),
            60,
            "the demo's camera and detector entities appear",
        )

        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        stderr.close()
    text = out.decode()
    assert demo.returncode == 0, (tmp_path / "stderr.log").read_text()
    assert fields["url"] in text
    assert f"user '{fields['user']}', password '{fields['password']}'" in text
    assert str(run_dir / "logs") in text
    logs = {p.name for p in (run_dir / "logs").iterdir()}
    assert {"home-assistant.log", "camera-demo-camera.log", "detector-demo-detector.log", "run.log"} <= logs
    # Each process stopped cleanly on SIGTERM (the agents publish `offline` on the way out).
    run_log = (run_dir / "logs" / "run.log").read_text()
    for name in ("camera-demo-camera", "detector-demo-detector", "home-assistant"):
        assert f"{name} stopped (exit code 0)" in run_log
    # A first look at the logs finds nothing wrong, start to stop (Home Assistant's camera
    # component logs an ERROR at start without libturbojpeg: scripts/setup installs it).
    for name in ("home-assistant.log", "camera-demo-camera.log", "detector-demo-detector.log"):
        log = (run_dir / "logs" / name).read_text(errors="replace")
        problems = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
        assert not problems, f"{name}: {problems[:5]}"


def test_the_demo_password_is_never_read_as_an_option(tmp_path: Path) -> None:
    """`hass --script auth add USER PASSWORD` fails on a password that starts with "-"."""
    passwords = {HassInstance(tmp_path, tmp_path).password for _ in range(2000)}
    assert len(passwords) == 2000
    assert not [p for p in passwords if p.startswith("-")]
