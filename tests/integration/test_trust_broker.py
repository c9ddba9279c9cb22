"""Issue 11 through HA's real MQTT client, a real Mosquitto and a real camera agent process.

- A camera switched off in HA whose agent restarts (kill -9) without its saved state
  comes back on by its own configuration: HA re-asserts off, and the switch shows off.
- A removed device stays removed: the broker echoes the retained clears to HA itself
  (with retain=False), and nothing brings the device back but the agent coming online.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.bobby_camera.const import DOMAIN

from .common import device
from .test_real_broker import _state, _until, camera_agent, fake_agent
from .test_restart import _remove_device

__all__ = ["camera_agent", "fake_agent"]  # fixtures of test_real_broker used here

SWITCH = "switch.yard_enabled"


async def test_camera_switched_off_stays_off_when_its_agent_restarts(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera_agent: Callable[[], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """Row 1 of issue 11 with the real agent: it restarts enabled; HA switches it off again."""
    log = tmp_path / "camera.log"
    agent = camera_agent()
    await _until(lambda: _state(hass, SWITCH) == "on", "the agent's switch shows on", log)
    await hass.services.async_call("switch", "turn_off", {"entity_id": SWITCH}, blocking=True)
    assert _state(hass, SWITCH) == "off"
    hub = hub_entry.runtime_data

    agent.send_signal(signal.SIGKILL)
    await hass.async_add_executor_job(agent.wait, 15)
    await _until(lambda: _state(hass, "binary_sensor.yard_connectivity") == "off", "offline", log)
    # It lost its saved state (a new SD card, an older agent, an unwritable state dir):
    # it starts from its configuration, enabled. Only Home Assistant knows better.
    shutil.rmtree(tmp_path / "agent-state")
    agent = camera_agent()
    await _until(lambda: _state(hass, "binary_sensor.yard_connectivity") == "on", "back online", log)
    await _until(
        lambda: (
            hub.agents["camera_cam1"].state is not None
            and hub.agents["camera_cam1"].state["enabled"] is False
        ),
        "HA re-asserted off and the agent applied it",
        log,
    )
    assert _state(hass, SWITCH) == "off"
    assert _state(hass, "binary_sensor.yard_problem") == "off"
    agent.send_signal(signal.SIGTERM)
    await hass.async_add_executor_job(agent.wait, 15)


def _announce(client: Any) -> None:
    """What the detector `mute` retains when it starts."""
    info = {"v": 1, "kind": "detector", "id": "mute", "name": "Mute", "version": "0.1", "stats_interval": 60}
    for channel, payload in (
        ("status", "online"),
        ("info", json.dumps(info)),
        ("state", '{"v":1,"enabled":true}'),
    ):
        client.publish(f"bobby/detector/mute/{channel}", payload, qos=1, retain=True).wait_for_publish(5)


async def test_removed_device_stays_removed_through_the_broker(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    fake_agent: tuple[Any, list[Any]],
    hass_ws_client: WebSocketGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Row 5 of issue 11: the clears come back to HA as messages; the device stays gone."""
    client, _received = fake_agent
    info = {
        "v": 1,
        "kind": "detector",
        "id": "mute",
        "name": "Mute",
        "version": "0.0.1",
        "stats_interval": 60,
    }
    for channel, payload in (
        ("status", "online"),
        ("info", json.dumps(info)),
        ("state", '{"v":1,"enabled":true}'),
    ):
        client.publish(f"bobby/detector/mute/{channel}", payload, qos=1, retain=True).wait_for_publish(5)
    await _until(lambda: _state(hass, "switch.mute_enabled") == "on", "the detector appears")
    client.publish("bobby/detector/mute/status", "offline", qos=1, retain=True).wait_for_publish(5)
    await _until(lambda: _state(hass, "binary_sensor.mute_connectivity") == "off", "it is offline")

    # A probe on the same broker sees the clears land, so their echo has reached HA too.
    cleared: set[str] = set()
    seen: set[str] = set()

    def probe(_client: Any, _userdata: Any, message: Any) -> None:
        (seen if message.payload else cleared).add(message.topic)

    client.on_message = probe
    client.subscribe("bobby/detector/mute/+", qos=1)
    assert await async_setup_component(hass, "config", {})
    ws = await hass_ws_client(hass)
    mute = device(hass, hub_entry.entry_id, "detector_mute")
    caplog.clear()
    assert await _remove_device(ws, dr.async_get(hass), hub_entry.entry_id, mute.id)
    want = {f"bobby/detector/mute/{channel}" for channel in ("status", "info", "state")}
    await _until(lambda: want <= cleared, "the retained topics are cleared on the broker")
    # A stray message from the stopped agent's host after the removal.
    client.publish("bobby/detector/mute/stats", json.dumps({"v": 1, "uptime": 1, "fps": 0})).wait_for_publish(
        5
    )
    await _until(lambda: "bobby/detector/mute/stats" in seen, "the stray stats pass the broker")
    await hass.async_block_till_done()
    assert device(hass, hub_entry.entry_id, "detector_mute") is None
    assert er.async_get(hass).async_get("switch.mute_enabled") is None
    assert "does not follow" not in caplog.text
    # Only the agent coming back online brings it back.
    for channel, payload in (
        ("status", "online"),
        ("info", json.dumps(info)),
        ("state", '{"v":1,"enabled":true}'),
    ):
        client.publish(f"bobby/detector/mute/{channel}", payload, qos=1, retain=True).wait_for_publish(5)
    await _until(lambda: device(hass, hub_entry.entry_id, "detector_mute") is not None, "it comes back")
    assert DOMAIN in {domain for domain, _ in device(hass, hub_entry.entry_id, "detector_mute").identifiers}
