"""Set-up, unload and discovery."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera.hub import BobbyHub, Channel

from .common import JPEG, announce, detection, device, fire


async def test_setup_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """The entry loads, subscribes to the agents' topics and unloads cleanly."""
    assert init_integration.state is ConfigEntryState.LOADED
    topics = {call.args[0] for call in mqtt_mock.async_subscribe.call_args_list}
    assert {
        "bobby/+/+/status",
        "bobby/+/+/info",
        "bobby/camera/+/detection",
        "bobby/camera/+/preview",
    } <= topics
    assert not any(t.endswith("/frame") for t in topics)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert init_integration.state is ConfigEntryState.NOT_LOADED


async def test_discovery_of_agents(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """Retained announcements become devices linked to the hub."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    camera = device(hass, init_integration.entry_id, "camera_porch")
    assert camera is not None
    assert camera.name == "Porch"
    assert camera.sw_version == "0.1.0"
    assert camera.model_id == "picamera: imx219"
    hub = device(hass, init_integration.entry_id, init_integration.entry_id)
    assert camera.via_device_id == hub.id
    assert hass.states.get("binary_sensor.porch_person").state == "off"
    assert hass.states.get("switch.porch_enabled").state == "on"
    assert hass.states.get("binary_sensor.pi_4_detector_connectivity").state == "on"


async def test_dumb_camera_appears_on_first_detection(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """A camera that only streams frames appears with detection entities, no switch."""
    assert hass.states.get("binary_sensor.porch_person") is None
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_person").state == "on"
    entities = {
        e.unique_id for e in er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    }
    assert "camera_porch_person" in entities
    assert "camera_porch_enabled" not in entities
    assert "camera_porch_connectivity" not in entities
    # It later turns out to run an agent: the agent's entities are added.
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    assert hass.states.get("switch.porch_enabled").state == "on"


async def test_detections_refresh_only_detection_entities(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """At many detections a second, only the entities that show detections are written."""
    from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED

    announce(hass, "camera_porch")
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()
    written: set[str] = set()

    @callback
    def everything(_data: object) -> bool:
        return True

    for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
        hass.bus.async_listen(event_type, lambda event: written.add(event.data["entity_id"]), everything)
    for score in (0.6, 0.7, 0.8):
        fire(hass, "bobby/camera/porch/detection", detection(score=score))
    await hass.async_block_till_done()
    assert written == {"binary_sensor.porch_person", "sensor.porch_last_score"}


async def test_a_new_channel_needs_no_platform_change(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, mock_config_entry: MockConfigEntry
) -> None:
    """A channel added to the hub (as recording chunks will be) is subscribed and handled,
    and refreshes no entity that does not list it."""
    from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED

    received: list[tuple[str, int]] = []
    start = BobbyHub.async_start

    async def start_with_frames(hub: BobbyHub) -> None:
        hub.add_channel(
            Channel(
                "frame",
                lambda agent, image: received.append((agent.key, len(image))),
                kind="camera",
            )
        )
        await start(hub)

    mock_config_entry.add_to_hass(hass)
    with patch.object(BobbyHub, "async_start", start_with_frames):
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert "bobby/camera/+/frame" in {call.args[0] for call in mqtt_mock.async_subscribe.call_args_list}
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    written: list[str] = []

    @callback
    def everything(_data: object) -> bool:
        return True

    for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
        hass.bus.async_listen(event_type, lambda event: written.append(event.data["entity_id"]), everything)
    fire(hass, "bobby/camera/porch/frame", JPEG)
    await hass.async_block_till_done()
    assert received == [("camera_porch", len(JPEG))]
    assert written == []


async def test_acks_are_subscribed_before_anything_that_leads_to_a_command(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, mock_config_entry: MockConfigEntry
) -> None:
    """HA subscribes wildcard topics one by one, each after its SUBACK: `ack` must come first.

    With status, info and state first, a command sent as the agent showed up (a re-assertion,
    or the recording test's record_clip on a loaded CI machine) was applied by the agent and
    its ack arrived before HA had subscribed to acks: a command_timeout for a command obeyed.
    """
    topics: list[str] = []
    real_subscribe = mqtt.async_subscribe

    async def recording_subscribe(hass: HomeAssistant, topic: str, *args: Any, **kwargs: Any) -> Any:
        topics.append(topic)
        return await real_subscribe(hass, topic, *args, **kwargs)

    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.bobby_camera.hub.mqtt.async_subscribe", recording_subscribe):
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    assert topics[0] == "bobby/+/+/ack"
    assert {"bobby/+/+/status", "bobby/+/+/info", "bobby/+/+/state"} <= set(topics[1:])
