"""Camera entities: the live preview of a camera agent and the last detection snapshot.

The snapshot (*Last detection*) shows the camera's zones and masks drawn on it (zones.py),
so the owner sees what they set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.camera import Camera, CameraEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .agent import Agent
from .entity import BobbyEntity, BobbyEntityDescription, async_add_agent_entities
from .hub import BobbyConfigEntry, BobbyHub
from .zones import draw, overlay_key

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyCameraDescription(BobbyEntityDescription, CameraEntityDescription):
    """A camera entity of a camera agent."""

    image_fn: Callable[[Agent], bytes | None]
    overlay: bool = False  # the camera's zones and masks drawn on the image


DESCRIPTIONS: tuple[BobbyCameraDescription, ...] = (
    BobbyCameraDescription(
        key="preview",
        translation_key="preview",
        image_fn=lambda a: a.preview,
        channels=frozenset({"preview"}),
        exists_fn=lambda a: a.is_camera and a.announced,
    ),
    BobbyCameraDescription(
        key="snapshot",
        translation_key="snapshot",
        image_fn=lambda a: a.snapshot,
        overlay=True,
        channels=frozenset({"snapshot"}),
        exists_fn=lambda a: a.is_camera,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add camera entities for known cameras and for those that appear later."""
    async_add_agent_entities(entry, async_add_entities, DESCRIPTIONS, BobbyCamera)


class BobbyCamera(BobbyEntity, Camera):
    """The last JPEG the broker holds for this camera (both topics are retained)."""

    entity_description: BobbyCameraDescription
    _attr_content_type = "image/jpeg"

    def __init__(self, hub: BobbyHub, agent: Agent, description: BobbyCameraDescription) -> None:
        """Set up both parents."""
        BobbyEntity.__init__(self, hub, agent, description)
        Camera.__init__(self)
        # The last image drawn on: (source image, what was drawn, result).
        self._drawn: tuple[bytes, str, bytes] | None = None

    @property
    @override
    def available(self) -> bool:
        """Available once an image has arrived."""
        return self.entity_description.image_fn(self.agent) is not None

    @override
    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        """Return the latest image (with the zones and masks drawn on the last detection)."""
        image = self.entity_description.image_fn(self.agent)
        zones, masks = self.agent.desired.zones, self.agent.desired.masks
        if image is None or not self.entity_description.overlay or not (zones or masks):
            return image
        key = overlay_key(zones, masks)
        if self._drawn is None or self._drawn[0] is not image or self._drawn[1] != key:
            try:
                drawn = await self.hass.async_add_executor_job(draw, image, zones or {}, masks or [])
            except (OSError, ValueError):  # a picture Pillow cannot read: shown as it came
                return image
            self._drawn = (image, key, drawn)
        return self._drawn[2]
