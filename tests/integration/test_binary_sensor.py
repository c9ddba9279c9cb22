"""Binary sensors: person occupancy with debouncing, connectivity, problem."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.bobby_camera.const import EVENT_PERSON_DETECTED

from .common import announce, detection, entity_summary, fire

PERSON = "binary_sensor.porch_person"


@pytest.fixture
def platforms() -> list[str]:
    """Only this platform."""
    return [Platform.BINARY_SENSOR]


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def _detect(hass: HomeAssistant, **changes: Any) -> None:
    fire(hass, "bobby/camera/porch/detection", detection(**changes))
    await hass.async_block_till_done()


async def test_entities(
    hass: HomeAssistant, init_integration: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    """The binary sensors of a camera agent and a detector agent."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    assert entity_summary(hass, init_integration.entry_id, "binary_sensor") == snapshot


async def test_person_on_first_detection_and_off_after_clear(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """trigger_after 0: on at the first detection; off clear_after (30 s) after the last one."""
    events = async_capture_events(hass, EVENT_PERSON_DETECTED)
    await _detect(hass)
    assert hass.states.get(PERSON).state == "on"
    assert len(events) == 1
    await _tick(hass, freezer, 20)
    await _detect(hass, score=0.8)  # extends the clear time, no new event
    assert len(events) == 1
    await _tick(hass, freezer, 20)
    assert hass.states.get(PERSON).state == "on"
    await _tick(hass, freezer, 10.5)
    assert hass.states.get(PERSON).state == "off"
    await _detect(hass)
    assert hass.states.get(PERSON).state == "on"
    assert len(events) == 2


async def test_detections_below_threshold_are_ignored(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A score under the hub's threshold (0.5) does not turn the sensor on."""
    await _detect(hass, score=0.3, boxes=[])
    state = hass.states.get(PERSON)
    assert state.state == "off"
    assert init_integration.runtime_data.agents["camera_porch"].last_detection["score"] == 0.3


@pytest.mark.parametrize("options", [{"trigger_after": 5.0, "clear_after": 10.0}], indirect=False)
async def test_trigger_after_needs_lasting_detections(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """trigger_after 5 s: a lone detection does nothing; detections lasting 5 s turn it on."""
    await _detect(hass)
    assert hass.states.get(PERSON).state == "off"
    await _tick(hass, freezer, 11)  # the streak ends without reaching 5 s
    await _detect(hass)
    for _ in range(4):
        await _tick(hass, freezer, 1)
        await _detect(hass)
        assert hass.states.get(PERSON).state == "off"
    await _tick(hass, freezer, 1)
    await _detect(hass)
    assert hass.states.get(PERSON).state == "on"
    await _tick(hass, freezer, 10.5)
    assert hass.states.get(PERSON).state == "off"


async def test_connectivity_follows_status(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """online → on, offline (last will) → off and problem on."""
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.pi_4_detector_connectivity").state == "on"
    assert hass.states.get("binary_sensor.pi_4_detector_problem").state == "off"
    fire(hass, "bobby/detector/pi4/status", "offline")  # live: not flagged retained
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.pi_4_detector_connectivity").state == "off"
    problem = hass.states.get("binary_sensor.pi_4_detector_problem")
    assert problem.state == "on"
    assert problem.attributes["problems"] == ["offline"]
