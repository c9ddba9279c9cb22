"""The per-camera *Notifications paused until* time: set by automations, kept over restarts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from homeassistant.const import STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant, State
from pytest_homeassistant_custom_component.common import MockConfigEntry, mock_restore_cache

from .common import announce

PAUSE = "datetime.porch_notifications_paused_until"


@pytest.fixture
def platforms() -> list[str]:
    """Only this platform."""
    return [Platform.DATETIME]


async def test_camera_has_a_pause_time_detector_does_not(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Empty until an automation sets it; set, it shows the time (UTC, ISO)."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    assert hass.states.get(PAUSE).state == STATE_UNKNOWN
    assert hass.states.async_entity_ids("datetime") == [PAUSE]

    until = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
    await hass.services.async_call(
        "datetime", "set_value", {"entity_id": PAUSE, "datetime": until}, blocking=True
    )
    assert hass.states.get(PAUSE).state == until.isoformat()


@pytest.fixture
def restored(hass: HomeAssistant) -> str:
    """A pause set before the restart."""
    until = "2026-12-02T10:30:00+00:00"
    mock_restore_cache(hass, [State(PAUSE, until)])
    return until


async def test_pause_outlives_a_restart(
    hass: HomeAssistant, restored: str, init_integration: MockConfigEntry
) -> None:
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    assert hass.states.get(PAUSE).state == restored
