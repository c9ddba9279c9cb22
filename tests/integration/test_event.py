"""Event entities and bus events: person detections and agent problems."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.bobby_camera.const import EVENT_PERSON_DETECTED

from .common import announce, detection, device, fire


@pytest.fixture
def platforms() -> list[str]:
    """Only this platform."""
    return [Platform.EVENT]


async def test_person_event_entity_and_bus_event(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A person transition fires the event entity and the bus event, once per transition."""
    bus = async_capture_events(hass, EVENT_PERSON_DETECTED)
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    assert hass.states.get("event.porch_person_detection").state == STATE_UNKNOWN
    fire(hass, "bobby/camera/porch/detection", detection())
    fire(hass, "bobby/camera/porch/detection", detection(score=0.95))
    await hass.async_block_till_done()
    state = hass.states.get("event.porch_person_detection")
    assert state.attributes["event_type"] == "detected"
    assert state.attributes["score"] == 0.91
    assert state.attributes["boxes"] == [{"score": 0.91, "box": [0.1, 0.2, 0.4, 0.9]}]
    assert len(bus) == 1
    camera = device(hass, init_integration.entry_id, "camera_porch")
    assert bus[0].data == {
        "device_id": camera.id,
        "camera": "porch",
        "name": "Porch",
        "label": "person",
        "zones": [],  # the camera has no zones
        "score": 0.91,
        "boxes": [{"score": 0.91, "box": [0.1, 0.2, 0.4, 0.9]}],
        "detector": "pi4",
        "frame_time": 1795000000.125,
        "snapshot": True,
        "snapshot_topic": "bobby/camera/porch/snapshot",
    }
    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("event.porch_person_detection").attributes["event_type"] == "cleared"


async def test_problem_event_entity(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The agent-problem event entity fires on problems and on recovery."""
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    entity_id = "event.pi_4_detector_agent_problem"
    assert hass.states.get(entity_id).state == STATE_UNKNOWN
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).attributes["event_type"] == "offline"
    fire(hass, "bobby/detector/pi4/status", "online")
    await hass.async_block_till_done()
    state = hass.states.get(entity_id)
    assert state.attributes["event_type"] == "recovered"
    assert state.attributes["problems"] == []
