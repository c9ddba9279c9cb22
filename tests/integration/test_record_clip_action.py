"""record_clip's refusals and errors, and commands in flight to several agents."""

from __future__ import annotations

import asyncio
import json

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, WebSocketGenerator

from custom_components.bobby_camera.commands import CommandError
from custom_components.bobby_camera.const import DOMAIN

from .common import announce, device, fire, payload
from .test_restart import _remove_device


@pytest.fixture
async def devices(hass: HomeAssistant, init_integration: MockConfigEntry) -> dict[str, str]:
    """Device ids of a recording camera (garage), a camera without recording (porch) and a detector."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    for channel in ("status", "info", "state"):
        data = payload("camera_porch", channel)
        if channel == "info":
            data = {**data, "id": "garage", "name": "Garage", "capabilities": ["fps", "preview", "record"]}
        fire(hass, f"bobby/camera/garage/{channel}", data, retain=True)
    await hass.async_block_till_done()
    return {
        key: device(hass, init_integration.entry_id, key).id
        for key in ("camera_porch", "camera_garage", "detector_pi4")
    }


async def _next_command(mqtt_mock: MqttMockHAClient, topic: str) -> dict:
    for _ in range(20):
        await asyncio.sleep(0)
    sent = [c for c in mqtt_mock.async_publish.call_args_list if c.args[0] == topic]
    assert sent, f"nothing sent to {topic}"
    command: dict = json.loads(sent[-1].args[1])
    return command


@pytest.mark.parametrize("target", ["detector_pi4", "camera_porch"])
async def test_record_clip_refuses_what_cannot_record(
    hass: HomeAssistant, devices: dict[str, str], mqtt_mock: MqttMockHAClient, target: str
) -> None:
    """A detector, or a camera without the record capability: a translated refusal naming it, nothing sent."""
    mqtt_mock.async_publish.reset_mock()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "record_clip", {"device_id": devices[target], "duration": 10}, blocking=True
        )
    assert err.value.translation_key == "cannot_record"
    assert err.value.translation_placeholders["name"]
    assert not [c for c in mqtt_mock.async_publish.call_args_list if c.args[0].endswith("/set")]


async def test_record_clip_refused_by_the_camera_is_a_translated_error(
    hass: HomeAssistant, devices: dict[str, str], mqtt_mock: MqttMockHAClient
) -> None:
    """The camera answers ok: false (e.g. its spool is full): the action fails with the camera's reason."""
    call = hass.async_create_background_task(
        hass.services.async_call(
            DOMAIN, "record_clip", {"device_id": devices["camera_garage"], "duration": 30}, blocking=True
        ),
        "record",
    )
    command = await _next_command(mqtt_mock, "bobby/camera/garage/set")
    assert (command["action"], command["duration"]) == ("record", 30.0)
    fire(hass, "bobby/camera/garage/ack", {"v": 1, "id": command["id"], "ok": False, "error": "spool full"})
    with pytest.raises(HomeAssistantError) as err:
        await call
    assert err.value.translation_key == "command_rejected"
    assert err.value.translation_placeholders["detail"] == "spool full"


async def test_removing_one_agent_leaves_the_others_commands_waiting(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    *,
    devices: dict[str, str],
    mqtt_mock: MqttMockHAClient,
    device_registry: dr.DeviceRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A command to the removed detector fails at once; the camera's command still gets its answer."""
    assert await async_setup_component(hass, "config", {})
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    hub = init_integration.runtime_data
    to_camera = hass.async_create_background_task(
        hub.control.async_request_preview(hub.agents["camera_garage"]), "a"
    )
    to_detector = hass.async_create_background_task(
        hub.control.async_set_enabled(hub.agents["detector_pi4"], False), "b"
    )
    command = await _next_command(mqtt_mock, "bobby/camera/garage/set")

    client = await hass_ws_client(hass)
    assert await _remove_device(client, device_registry, init_integration.entry_id, devices["detector_pi4"])
    await hass.async_block_till_done()
    assert to_detector.done()
    with pytest.raises(CommandError):
        to_detector.result()
    assert not to_camera.done()

    state = {"v": 1, "enabled": True, "fps": 2.0}
    fire(hass, "bobby/camera/garage/ack", {"v": 1, "id": command["id"], "ok": True, "state": state})
    await to_camera
