"""Actions: request_preview and set_enabled, with translated errors."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera.const import DOMAIN

from .common import announce, detection, device, fire


@pytest.fixture
async def devices(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> dict[str, str]:
    """Device ids of a camera agent, a detector agent and a camera that only streams."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    fire(hass, "bobby/camera/esp32/detection", detection(camera="esp32"))
    await hass.async_block_till_done()
    return {
        key: device(hass, init_integration.entry_id, key).id
        for key in ("camera_porch", "detector_pi4", "camera_esp32")
    }


async def _answer_next_command(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, topic: str, **ack: object
) -> dict:
    for _ in range(20):
        await asyncio.sleep(0)
    call = mqtt_mock.async_publish.call_args_list[-1]
    assert call.args[0] == topic
    command = json.loads(call.args[1])
    fire(hass, topic.replace("/set", "/ack"), {"v": 1, "id": command["id"], **ack})
    return command


async def test_request_preview(
    hass: HomeAssistant, devices: dict[str, str], mqtt_mock: MqttMockHAClient
) -> None:
    """request_preview sends action=preview to the camera and returns on its ack."""
    call = hass.async_create_background_task(
        hass.services.async_call(
            DOMAIN, "request_preview", {"device_id": devices["camera_porch"]}, blocking=True
        ),
        "preview",
    )
    command = await _answer_next_command(
        hass, mqtt_mock, "bobby/camera/porch/set", ok=True, state={"v": 1, "enabled": True}
    )
    await call
    assert command["action"] == "preview"


async def test_set_enabled(hass: HomeAssistant, devices: dict[str, str], mqtt_mock: MqttMockHAClient) -> None:
    """set_enabled switches a detector; a refusal becomes a translated error."""
    call = hass.async_create_background_task(
        hass.services.async_call(
            DOMAIN, "set_enabled", {"device_id": devices["detector_pi4"], "enabled": False}, blocking=True
        ),
        "disable",
    )
    await _answer_next_command(
        hass,
        mqtt_mock,
        "bobby/detector/pi4/set",
        ok=False,
        error="model not loaded: run bobby-edge model fetch",
    )
    with pytest.raises(HomeAssistantError) as err:
        await call
    assert err.value.translation_key == "command_rejected"
    assert "model fetch" in err.value.translation_placeholders["detail"]


@pytest.mark.parametrize(
    ("service", "device", "data", "key"),
    [
        ("request_preview", "detector_pi4", {}, "not_a_camera"),
        ("set_enabled", "camera_esp32", {"enabled": True}, "not_controllable"),
        ("set_enabled", None, {"enabled": True}, "unknown_device"),
    ],
)
async def test_invalid_targets(
    hass: HomeAssistant, devices: dict[str, str], *, service: str, device: str | None, data: dict, key: str
) -> None:
    """Wrong devices are refused with translated validation errors, nothing is sent."""
    device_id = devices[device] if device else "not-a-device"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, service, {"device_id": device_id, **data}, blocking=True)
    assert err.value.translation_key == key


async def test_request_preview_unanswered(
    hass: HomeAssistant, devices: dict[str, str], freezer: FrozenDateTimeFactory
) -> None:
    """A camera that does not answer: a translated timeout error naming it."""
    call = hass.async_create_background_task(
        hass.services.async_call(
            DOMAIN, "request_preview", {"device_id": devices["camera_porch"]}, blocking=True
        ),
        "preview",
    )
    for _ in range(20):
        await asyncio.sleep(0)
    freezer.tick(timedelta(seconds=10.5))
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError) as err:
        await call
    assert err.value.translation_key == "command_timeout"
    assert err.value.translation_placeholders["name"] == "Porch"


async def test_device_of_another_integration(
    hass: HomeAssistant, devices: dict[str, str], device_registry: dr.DeviceRegistry
) -> None:
    """A device id that exists but is not ours is an unknown device, not a crash."""
    other = MockConfigEntry(domain="demo")
    other.add_to_hass(hass)
    lamp = device_registry.async_get_or_create(config_entry_id=other.entry_id, identifiers={("demo", "lamp")})
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_enabled", {"device_id": lamp.id, "enabled": True}, blocking=True
        )
    assert err.value.translation_key == "unknown_device"


async def test_actions_while_the_hub_is_unloaded(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    devices: dict[str, str],
    mqtt_mock: MqttMockHAClient,
) -> None:
    """Actions stay registered; with the hub unloaded they say so and send nothing."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    mqtt_mock.async_publish.reset_mock()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_enabled", {"device_id": devices["camera_porch"], "enabled": False}, blocking=True
        )
    assert err.value.translation_key == "not_loaded"
    mqtt_mock.async_publish.assert_not_called()
