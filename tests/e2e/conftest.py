"""The whole system as real processes, started once for the lane and shared by the tests
that leave it as they found it (test_system, test_recording): Mosquitto, Home Assistant (`hass`)
with MQTT and Bobby Camera set up through its own APIs, a camera agent on the sample
pictures and a detector with the default model. Built with the same orchestrator as
`scripts/run` (scripts/bobby_demo).

Logs: $BOBBY_E2E_LOG_DIR, else $BOBBY_CACHE/logs/e2e (default ~/.cache/bobby-camera/logs/e2e);
a failing test's report ends with the tail of each.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bobby_demo.hass import HassApi
from bobby_demo.samples import make_samples
from bobby_demo.system import BobbySystem
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

REPO = Path(__file__).resolve().parents[2]

CAMERA = "e2e-cam"
DETECTOR = "e2e-det"
FPS = 2.0
PERSON_SECONDS = 6.0
EMPTY_SECONDS = 10.0
STATS_INTERVAL = 1.0
PRE_ROLL = 4.0
# A short offline grace: the crash test sees connectivity off at once, the problem after it.
OPTIONS = {"trigger_after": 0, "clear_after": 2, "command_timeout": 5, "offline_grace": 5}
CACHE = Path(os.environ.get("BOBBY_CACHE", "~/.cache/bobby-camera")).expanduser()
LOG_DIR = Path(os.environ.get("BOBBY_E2E_LOG_DIR") or CACHE / "logs" / "e2e")  # one per lane


@dataclass
class E2E:
    """What a test needs: the processes, HA's API, an MQTT probe, and entity ids by role."""

    system: BobbySystem
    api: HassApi
    probe: Probe
    broker: Mosquitto
    entities: dict[str, str]

    def restart_detector(self) -> None:
        self.system.start_detector(DETECTOR, *detector_args())

    def state(self, role: str) -> dict[str, Any]:
        return self.api.state(self.entities[role])

    def wait_state(self, role: str, value: str, timeout: float) -> dict[str, Any]:
        """Poll HA's REST API until the entity of `role` has state `value`."""
        return self.wait_for(
            lambda: (s := self.state(role))["state"] == value and s,
            timeout,
            f"{self.entities[role]} == {value!r}",
            lambda: self.state(role)["state"],
        )

    def wait_for(
        self, check: Callable[[], Any], timeout: float, what: str, show: Callable[[], Any] | None = None
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.system.check_running()
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                now = f" (now: {show()!r})" if show else ""
                raise AssertionError(f"{what}: not within {timeout:.0f}s{now}; logs in {LOG_DIR}")
            time.sleep(0.2)


def camera_args() -> list[str]:
    return [
        "--fps",
        str(FPS),
        "--width",
        "640",
        "--height",
        "480",
        "--stats-interval",
        str(STATS_INTERVAL),
        "--name",
        "E2E camera",
        # Short events, so a clip is finished within a person scene and the empty one after it.
        "--pre-roll",
        str(PRE_ROLL),
        "--post-roll",
        "2",
        "--chunk-seconds",
        "4",
    ]


def detector_args() -> list[str]:
    return [
        "--stats-interval",
        str(STATS_INTERVAL),
        "--threads",
        "1",
        "--name",
        "E2E detector",
        "--snapshot-interval",
        "2",
    ]


# Entities by role, found through HA's entity registry by the integration's unique ids
# (`<kind>_<id>_<key>`), not by guessing the entity ids HA derives from names.
ROLES = {
    "person": f"camera_{CAMERA}_person",
    "camera_switch": f"camera_{CAMERA}_enabled",
    "camera_connectivity": f"camera_{CAMERA}_connectivity",
    "detector_switch": f"detector_{DETECTOR}_enabled",
    "detector_connectivity": f"detector_{DETECTOR}_connectivity",
    "detector_problem": f"detector_{DETECTOR}_problem",
}


def find_entities(api: HassApi) -> dict[str, str] | None:
    by_unique_id = {
        e["unique_id"]: e["entity_id"] for e in api.entity_registry() if e["platform"] == "bobby_camera"
    }
    found = {role: by_unique_id.get(unique_id) for role, unique_id in ROLES.items()}
    return found if all(found.values()) else None  # type: ignore[return-value]


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    run_dir = tmp_path_factory.mktemp("e2e")
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    broker = Mosquitto(run_dir / "broker").start()
    # With the frontend: a browser opens the media browser and plays a clip.
    system = BobbySystem(run_dir, broker.host, broker.port, log_dir=LOG_DIR, frontend=True)
    probe: Probe | None = None
    try:
        samples = run_dir / "samples"
        make_samples(samples, fps=FPS, person_seconds=PERSON_SECONDS, empty_seconds=EMPTY_SECONDS)
        api = system.start_hass()
        system.setup_integrations(OPTIONS)
        probe = Probe(broker.port)
        for topic in ("frame", "detection", "stats", "ack", "state"):
            probe.subscribe(f"bobby/camera/{CAMERA}/{topic}", qos=0 if topic == "frame" else 1)
        probe.subscribe(f"bobby/detector/{DETECTOR}/#")
        system.start_detector(DETECTOR, *detector_args())
        system.start_camera(CAMERA, f"images:{samples}", *camera_args())
        harness = E2E(system, api, probe, broker, {})
        harness.entities = harness.wait_for(
            lambda: find_entities(api), 60, "the agents' entities appear in HA"
        )
        # Each test starts from a running system: camera capturing, detector online.
        harness.wait_state("camera_switch", "on", timeout=30)
        harness.wait_state("detector_connectivity", "on", timeout=30)
        yield harness
    finally:
        system.stop()
        if probe:
            probe.close()
        broker.stop()
        (LOG_DIR / "mosquitto.log").write_bytes(
            broker.log_path.read_bytes() if broker.log_path.exists() else b""
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, end the report with the last lines of every process's log."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and LOG_DIR.is_dir():
        for log in sorted(LOG_DIR.glob("*.log")):
            lines = [line[:400] for line in log.read_text(errors="replace").splitlines()[-25:]]
            report.sections.append((f"log {log.name} (last lines)", "\n".join(lines)))
