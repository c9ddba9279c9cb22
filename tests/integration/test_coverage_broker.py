"""Is the camera watched? Home Assistant's real MQTT client, a real Mosquitto, a real camera
agent and a real detector (the default model), as separate processes (issue 22).

Frames flowing with nobody analysing them looked exactly like an empty garden: every
sensor fine. Now the camera's Watched sensor turns off when no detector analyses its
frames, and a `bobby_camera_coverage_gap` event with cause `no_detector` says how long
when a detector analyses them again.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Generator
from pathlib import Path

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.bobby_camera.const import EVENT_COVERAGE_GAP
from tests.support.mosquitto import Mosquitto
from tests.support.processes import start_agent, stop_all

from .test_real_broker import _state, _until, camera_agent

__all__ = ["camera_agent"]  # the fixture, shared with test_real_broker

WATCHED = "binary_sensor.yard_watched"


@pytest.fixture
def detector_agent(broker: Mosquitto, tmp_path: Path) -> Generator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `bobby-edge detector` (id det1, the default model, stats every 0.5 s) as a process."""
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = start_agent(
            "detector",
            broker.url,
            tmp_path / "detector.log",
            *("--id", "det1", "--threads", "1", "--workers", "1", "--stats-interval", "0.5"),
            *("--state-dir", str(tmp_path / "detector-state")),
        )
        processes.append(process)
        return process

    yield start
    stop_all(processes)


async def test_frames_nobody_analyses_turn_watched_off_and_the_gap_is_reported(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera_agent: Callable[[], subprocess.Popen[bytes]],
    detector_agent: Callable[[], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """Analysed → Watched on; the only detector stops → off (no_detector); back → on and one gap event."""
    gaps = async_capture_events(hass, EVENT_COVERAGE_GAP)
    log = tmp_path / "detector.log"
    camera_agent()
    detector = detector_agent()
    await _until(lambda: _state(hass, WATCHED) == "on", "the detector's reports show Yard watched", log)
    hub = hub_entry.runtime_data
    camera = hub.agents["camera_cam1"]
    assert camera.watch is not None
    # 2 × 0.5 s (the detector's stats) + 3 × 0.5 s (the camera's 2 fps) + 1 s
    assert camera.watch.bound == 3.5
    assert hass.states.get(WATCHED).attributes["cause"] is None

    # The camera keeps sending; nobody analyses its frames.
    detector.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    await hass.async_add_executor_job(detector.wait, 15)
    await _until(lambda: _state(hass, WATCHED) == "off", "Yard is reported not watched")
    off_after = time.monotonic() - stopped
    assert hass.states.get(WATCHED).attributes["cause"] == "no_detector"
    assert gaps == []  # reported when it ends

    detector = detector_agent()
    await _until(lambda: _state(hass, WATCHED) == "on", "Yard is watched again", log)
    on_after = time.monotonic() - stopped
    (gap,) = gaps
    assert gap.data["camera"] == "cam1"
    assert gap.data["cause"] == "no_detector"
    assert gap.data["device_id"] is not None
    assert 0 < gap.data["seconds"] <= on_after + 1
    assert gap.data["start"] < gap.data["end"]
    print(f"Watched off {off_after:.1f} s after the detector stopped; gap of {gap.data['seconds']} s")
    coverage = float(hass.states.get("sensor.yard_coverage").state)
    assert 0 <= coverage < 100
