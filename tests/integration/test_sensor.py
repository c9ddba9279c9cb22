"""Sensors: frame rates, last score, inference time, dropped frames."""

from __future__ import annotations

import pytest
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from .common import announce, detection, entity_summary, fire, payload


@pytest.fixture
def platforms() -> list[str]:
    """Only this platform."""
    return [Platform.SENSOR]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities(
    hass: HomeAssistant, init_integration: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    """Every sensor of a camera agent and a detector agent, after stats and one detection."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    fire(hass, "bobby/camera/porch/detection", detection(score=0.875))
    await hass.async_block_till_done()
    assert entity_summary(hass, init_integration.entry_id, "sensor") == snapshot


async def test_values_follow_stats(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Each stats message updates the sensors; offline makes them unavailable."""
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_4_detector_inference_time").state == "6.1"
    assert hass.states.get("sensor.pi_4_detector_analysed_frame_rate").state == "14.2"
    assert hass.states.get("sensor.pi_4_detector_dropped_frames").state == "50"
    fire(
        hass,
        "bobby/detector/pi4/stats",
        payload("detector_pi4", "stats", frames_dropped=75, inference_ms_p50=None),
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_4_detector_dropped_frames").state == "75"
    assert hass.states.get("sensor.pi_4_detector_inference_time").state == STATE_UNKNOWN
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_4_detector_dropped_frames").state == STATE_UNAVAILABLE


async def test_last_score_of_a_dumb_camera(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A camera without an agent still has its last score, and no fps sensor."""
    fire(hass, "bobby/camera/esp32/detection", detection(camera="esp32", score=0.42))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.esp32_last_score").state == "42.0"
    assert hass.states.get("sensor.esp32_frame_rate") is None
