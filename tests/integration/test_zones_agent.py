"""Masks and objects reach a real camera agent through Mosquitto and come back after it
lost them: Home Assistant owns them and re-asserts them (issue 24)."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.bobby_camera.const import DOMAIN

from .test_real_broker import _state, _until, camera_agent  # noqa: F401 - a fixture

MASK = [[0.0, 0.0], [0.3, 0.0], [0.3, 0.2], [0.0, 0.2]]


async def test_masks_and_objects_are_reasserted_to_a_camera_that_lost_them(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera_agent: Callable[[], subprocess.Popen[bytes]],  # noqa: F811
    tmp_path: Path,
) -> None:
    log = tmp_path / "camera.log"
    agent = camera_agent()
    await _until(lambda: _state(hass, "switch.yard_enabled") == "on", "the camera is discovered", log)
    device_id = er.async_get(hass).async_get("switch.yard_enabled").device_id
    await hass.services.async_call(
        DOMAIN,
        "set_zones",
        {"device_id": device_id, "masks": [MASK], "objects": ["person", "dog"], "zones": {"Gate": MASK}},
        blocking=True,
    )
    camera = hub_entry.runtime_data.agents["camera_cam1"]
    assert camera.state["masks"] == [MASK]
    assert camera.state["objects"] == ["person", "dog"]

    # The Pi's SD card is replaced: the agent starts again without its saved state.
    agent.send_signal(signal.SIGKILL)
    await hass.async_add_executor_job(agent.wait, 15)
    await _until(
        lambda: _state(hass, "binary_sensor.yard_connectivity") == "off", "the camera is offline", log
    )
    shutil.rmtree(tmp_path / "agent-state")
    agent = camera_agent()
    await _until(
        lambda: camera.online and camera.state is not None and camera.state.get("masks") == [MASK],
        "the masks are re-asserted",
        log,
    )
    assert camera.state["objects"] == ["person", "dog"]
    assert camera.problems == ()
    assert _state(hass, "binary_sensor.yard_person_in_gate") == "off"
    agent.send_signal(signal.SIGTERM)
    await hass.async_add_executor_job(agent.wait, 15)
