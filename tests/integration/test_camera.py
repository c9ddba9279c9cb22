"""Camera entities: preview and last detection snapshot (retained JPEG topics)."""

from __future__ import annotations

import pytest
from homeassistant.components.camera import async_get_image
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .common import JPEG, announce, fire


@pytest.fixture
def platforms() -> list[str]:
    """Only this platform."""
    return [Platform.CAMERA]


async def test_preview_and_snapshot_images(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Each camera entity serves the last JPEG of its topic, byte for byte."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    assert hass.states.get("camera.porch_preview").state == STATE_UNAVAILABLE
    fire(hass, "bobby/camera/porch/preview", JPEG, retain=True)
    snapshot = JPEG.replace(b"JFIF", b"SNAP")
    fire(hass, "bobby/camera/porch/snapshot", snapshot, retain=True)
    await hass.async_block_till_done()
    assert hass.states.get("camera.porch_preview").state == "idle"
    image = await async_get_image(hass, "camera.porch_preview")
    assert (image.content_type, image.content) == ("image/jpeg", JPEG)
    image = await async_get_image(hass, "camera.porch_last_detection")
    assert image.content == snapshot


async def test_jpeg_bytes_arrive_intact_and_other_bytes_are_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """JPEG topics are subscribed without decoding; only a JPEG within the limits is kept."""
    for not_a_jpeg in (bytes(range(256)), JPEG[:20], b"\xff\xd8\xff\xc0\x00\x0b\x08\xea\x60\xea\x60\x01"):
        fire(hass, "bobby/camera/garage/snapshot", not_a_jpeg)  # live: HA passes one retained per topic
        await hass.async_block_till_done()
    assert hass.states.get("camera.garage_last_detection") is None  # refused: no camera made
    assert init_integration.runtime_data.invalid_messages == 3
    raw = JPEG + bytes(range(256))  # what follows the frame header is the image's business
    fire(hass, "bobby/camera/garage/snapshot", raw)
    await hass.async_block_till_done()
    image = await async_get_image(hass, "camera.garage_last_detection")
    assert image.content == raw
    assert hass.states.get("camera.garage_preview") is None  # no agent announced: no preview
