"""True state right after a restart, stale devices, and set-up without MQTT."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, WebSocketGenerator

from custom_components.bobby_camera.commands import CommandError
from custom_components.bobby_camera.const import DOMAIN

from .common import announce, device, fire

PERSON = "binary_sensor.porch_person"


def _known_camera(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """What the registries hold for a camera seen before the restart."""
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, "camera_porch")}, name="Porch"
    )
    er.async_get(hass).async_get_or_create(
        "binary_sensor",
        DOMAIN,
        "camera_porch_person",
        suggested_object_id="porch_person",
        config_entry=entry,
        device_id=device.id,
    )


@pytest.mark.parametrize(("seen_ago", "expected"), [(10, "on"), (45, "off")])
async def test_person_state_survives_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    *,
    seen_ago: int,
    expected: str,
) -> None:
    """Detections are not retained: the person sensor restores its last sighting.

    Seen 10 s before the restart with clear_after 30 s: on at once, off 20 s later.
    Seen 45 s before: off at once.
    """
    _known_camera(hass, mock_config_entry)
    last_hit = dt_util.utcnow() - timedelta(seconds=seen_ago)
    mock_restore_cache_with_extra_data(hass, [(State(PERSON, "on"), {"last_hit": last_hit.isoformat()})])
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(PERSON).state == expected
    freezer.tick(timedelta(seconds=30 - seen_ago + 0.5 if seen_ago < 30 else 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(PERSON).state == "off"


async def test_retained_state_shows_at_once(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """After a restart the retained status, info and state give every entity its value."""
    announce(hass, "camera_porch", stats=False)
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0}, retain=False)
    await hass.async_block_till_done()
    assert hass.states.get("switch.porch_enabled").state == "off"
    assert hass.states.get("binary_sensor.porch_connectivity").state == "on"


async def _remove_device(
    client: Any, device_registry: dr.DeviceRegistry, config_entry_id: str, device_id: str
) -> bool:
    """Remove a device from the UI's device page (the command changed name in 2026.x)."""
    if hasattr(device_registry, "async_get_device_by_identifier"):
        message = {"type": "config/device_registry/remove", "device_id": device_id}
    else:
        message = {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": config_entry_id,
            "device_id": device_id,
        }
    await client.send_json_auto_id(message)
    return bool((await client.receive_json())["success"])


async def test_remove_stale_device(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    device_registry: dr.DeviceRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """An online agent cannot be removed; an offline one can, and its retained topics are cleared."""
    assert await async_setup_component(hass, "config", {})
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    stale = device(hass, init_integration.entry_id, "detector_pi4")
    client = await hass_ws_client(hass)

    async def remove(device_id: str) -> bool:
        return await _remove_device(client, device_registry, init_integration.entry_id, device_id)

    assert await remove(stale.id) is False  # online
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert await remove(stale.id) is True
    await hass.async_block_till_done()
    assert device(hass, init_integration.entry_id, "detector_pi4") is None
    assert hass.states.get("switch.pi_4_detector_enabled") is None
    cleared = [c.args for c in mqtt_mock.async_publish.call_args_list if c.args[3] is True]
    assert {(topic, payload) for topic, payload, *_ in cleared} == {
        ("bobby/detector/pi4/status", b""),
        ("bobby/detector/pi4/info", b""),
        ("bobby/detector/pi4/state", b""),
    }
    # The hub device itself stays.
    hub = device(hass, init_integration.entry_id, init_integration.entry_id)
    assert await remove(hub.id) is False
    assert "detector_pi4" not in init_integration.runtime_data.agents


async def test_removing_an_agent_ends_its_commands(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    *,
    device_registry: dr.DeviceRegistry,
    issue_registry: ir.IssueRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A command still waiting for its ack fails when its agent is removed, and its timer
    does not raise a repair issue later for a device that is gone."""
    assert await async_setup_component(hass, "config", {})
    announce(hass, "detector_pi4")
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    hub = init_integration.runtime_data
    task = hass.async_create_background_task(
        hub.control.async_set_enabled(hub.agents["detector_pi4"], False), "cmd"
    )
    for _ in range(10):
        await asyncio.sleep(0)
    client = await hass_ws_client(hass)
    stale = device(hass, init_integration.entry_id, "detector_pi4")
    assert await _remove_device(client, device_registry, init_integration.entry_id, stale.id)
    await hass.async_block_till_done()
    assert task.done()
    with pytest.raises(CommandError):
        task.result()
    freezer.tick(timedelta(seconds=11))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, "detector_pi4_command_timeout") is None


async def test_setup_retries_while_mqtt_is_not_ready(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, mock_config_entry: MockConfigEntry
) -> None:
    """No MQTT client yet: ConfigEntryNotReady, so HA retries later."""
    mock_config_entry.add_to_hass(hass)
    with patch("homeassistant.components.mqtt.async_wait_for_mqtt_client", return_value=False):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
