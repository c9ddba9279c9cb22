"""Camera entities: the live preview of a camera agent and the last detection snapshot."""

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

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyCameraDescription(BobbyEntityDescription, CameraEntityDescription):
    """A camera entity of a camera agent."""

    image_fn: Callable[[Agent], bytes | None]


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

    @property
    @override
    def available(self) -> bool:
        """Available once an image has arrived."""
        return self.entity_description.image_fn(self.agent) is not None

    @override
    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        """Return the latest image."""
        return self.entity_description.image_fn(self.agent)
