"""Diagnostics with host names redacted."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from .common import announce, detection, fire


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Diagnostics show every agent, redact host names and count bad messages."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    fire(hass, "bobby/camera/porch/detection", detection())
    fire(hass, "bobby/camera/porch/stats", "garbage")
    await hass.async_block_till_done()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert diagnostics["agents"]["camera_porch"]["info"]["hostname"] == "**REDACTED**"
    assert diagnostics["invalid_messages"] == 1
    assert diagnostics == snapshot
