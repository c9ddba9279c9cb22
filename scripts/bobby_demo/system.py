"""The whole system as real processes: Home Assistant with our integration, and the agents.

The broker is started by the caller (the demo and the test both use
`tests/support/mosquitto.py`), so that a test can restart or inspect it. `BobbySystem`
starts everything else, sets Home Assistant up through its own APIs, and stops it all in
an order that lets the agents say goodbye (`offline`) before the broker goes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .hass import HassApi, HassInstance
from .processes import ManagedProcess

REPO = Path(__file__).resolve().parents[2]

_LOGGER = logging.getLogger(__name__)


class BobbySystem:
    """Home Assistant and agents around one broker; every log in `log_dir`."""

    def __init__(
        self,
        run_dir: Path,
        broker_host: str,
        broker_port: int,
        *,
        log_dir: Path | None = None,
        hass_port: int | None = None,
        frontend: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir or run_dir / "logs"
        self.broker = f"{broker_host}:{broker_port}"
        self.broker_host, self.broker_port = broker_host, broker_port
        # Agents authenticate when the broker wants it; HA's MQTT entry uses the same login.
        self.username, self.password = username, password
        self.hass = HassInstance(run_dir / "homeassistant", self.log_dir, port=hass_port, frontend=frontend)
        self.api: HassApi | None = None
        self.agents: dict[str, ManagedProcess] = {}

    # --- Home Assistant -----------------------------------------------------------------
    def start_hass(self) -> HassApi:
        self.hass.prepare()
        self.api = self.hass.start()
        return self.api

    def setup_integrations(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """MQTT on our broker, then the Bobby Camera hub, both through the config-flow API;
        `options` (clear_after, trigger_after, ...) through the options flow."""
        assert self.api is not None, "start_hass() first"
        self.api.ensure_mqtt(self.broker_host, self.broker_port, self.username, self.password)
        entries = self.api.config_entries("bobby_camera")
        if not entries:
            self.api.run_config_flow("bobby_camera", {"base_topic": "bobby"})
        entry = self.api.wait_entry_loaded("bobby_camera")
        if options:
            self.api.run_options_flow(entry["entry_id"], options)
            entry = self.api.wait_entry_loaded("bobby_camera")  # the options reload the entry
        _LOGGER.info("integrations set up: mqtt → %s, bobby_camera %s", self.broker, entry["entry_id"])
        return entry

    # --- agents ---------------------------------------------------------------------------
    def _agent_argv(self, kind: str, agent_id: str, *args: str) -> list[str]:
        argv = [sys.executable, "-m", "bobby_edge", kind, "--broker", self.broker, "--id", agent_id]
        if self.username:
            argv += ["--username", self.username]
        return argv + list(args)

    def _agent_env(self) -> dict[str, str]:
        # Each run remembers its agents' commanded state in its own folder, never in ~.
        env = {"BOBBY_STATE_DIR": str(self.run_dir / "agent-state")}
        # The agents of this checkout, as Home Assistant gets this checkout's component (a venv
        # may hold an editable install of another checkout).
        edge = str(REPO / "edge_agents")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (edge, os.environ.get("PYTHONPATH", "")) if p)
        return env | ({"BOBBY_PASSWORD": self.password} if self.password else {})

    def start_camera(self, camera_id: str, source: str, *args: str) -> ManagedProcess:
        """`bobby-edge camera --source SOURCE ...`; a running one with this id is stopped first."""
        return self._start(
            f"camera-{camera_id}", self._agent_argv("camera", camera_id, "--source", source, *args)
        )

    def start_detector(self, detector_id: str, *args: str) -> ManagedProcess:
        """`bobby-edge detector --model <default model> ...`."""
        argv = self._agent_argv("detector", detector_id, "--model", str(fetch_model()), *args)
        return self._start(f"detector-{detector_id}", argv)

    def _start(self, name: str, argv: list[str]) -> ManagedProcess:
        old = self.agents.get(name)
        if old and old.running():
            old.stop()
        process = ManagedProcess(name, argv, self.log_dir / f"{name}.log", env=self._agent_env()).start()
        self.agents[name] = process
        return process

    def check_running(self) -> None:
        """Raise if any process that should run has exited (with its log's tail)."""
        if self.hass.process:
            self.hass.process.check_running()
        for process in self.agents.values():
            process.check_running()

    def stop(self) -> None:
        """Agents first (they publish `offline` while the broker is up), then Home Assistant."""
        for process in reversed(list(self.agents.values())):
            process.stop()
        self.hass.stop()


def fetch_model() -> Path:
    """The default model's path, fetched (sha256-checked) on first use by `bobby-edge model fetch`."""
    result = subprocess.run(
        [sys.executable, "-m", "bobby_edge", "model", "fetch"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`bobby-edge model fetch` failed:\n{result.stdout}{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])
