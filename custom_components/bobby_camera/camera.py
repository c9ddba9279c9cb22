"""Camera entities: the live preview of a camera agent and the last detection snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.camera import Camera, CameraEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import AGENT_CHANNELS
from .entity import BobbyEntity, async_add_service_entities
from .hub import BobbyConfigEntry, BobbyHub, Service

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyCameraDescription(CameraEntityDescription):
    """A camera entity of a camera service."""

    image_fn: Callable[[Service], bytes | None]
    exists_fn: Callable[[Service], bool]
    channels: frozenset[str] = AGENT_CHANNELS


DESCRIPTIONS: tuple[BobbyCameraDescription, ...] = (
    BobbyCameraDescription(
        key="preview",
        translation_key="preview",
        image_fn=lambda s: s.preview,
        channels=frozenset({"preview"}),
        exists_fn=lambda s: s.kind == "camera" and s.is_agent,
    ),
    BobbyCameraDescription(
        key="snapshot",
        translation_key="snapshot",
        image_fn=lambda s: s.snapshot,
        channels=frozenset({"snapshot"}),
        exists_fn=lambda s: s.kind == "camera",
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add camera entities for known cameras and for those that appear later."""
    async_add_service_entities(entry, async_add_entities, DESCRIPTIONS, BobbyCamera)


class BobbyCamera(BobbyEntity, Camera):
    """The last JPEG the broker holds for this camera (both topics are retained)."""

    entity_description: BobbyCameraDescription
    _attr_content_type = "image/jpeg"

    def __init__(self, hub: BobbyHub, service: Service, description: BobbyCameraDescription) -> None:
        """Set up both parents."""
        BobbyEntity.__init__(self, hub, service, description)
        Camera.__init__(self)

    @property
    def available(self) -> bool:
        """Available once an image has arrived."""
        return self.entity_description.image_fn(self.service) is not None

    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        """Return the latest image."""
        return self.entity_description.image_fn(self.service)
