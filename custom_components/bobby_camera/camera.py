"""Camera entities: the live preview of a camera agent and the last detection snapshot.

The snapshot (*Last detection*) shows the camera's zones and masks drawn on it (zones.py),
so the owner sees what they set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from aiohttp import web
from homeassistant.components.camera import Camera, CameraEntityDescription, CameraEntityFeature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .agent import Agent
from .entity import BobbyEntity, BobbyEntityDescription, async_add_agent_entities
from .hub import BobbyConfigEntry, BobbyHub
from .live import can_stream, native_stream_url
from .zones import draw, overlay_key

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyCameraDescription(BobbyEntityDescription, CameraEntityDescription):
    """A camera entity of a camera agent."""

    image_fn: Callable[[Agent], bytes | None]
    live: bool = False  # watching it streams the camera's live frames (live.py)
    overlay: bool = False  # the camera's zones and masks drawn on the image


DESCRIPTIONS: tuple[BobbyCameraDescription, ...] = (
    BobbyCameraDescription(
        key="preview",
        translation_key="preview",
        image_fn=lambda a: a.preview,
        live=True,
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

    def _native_url(self) -> str | None:
        return native_stream_url(self.agent, self.hub.native_video) if self.entity_description.live else None

    @property
    @override
    def supported_features(self) -> CameraEntityFeature:
        """STREAM where the owner lets Home Assistant play the camera's RTSP stream itself."""
        return CameraEntityFeature.STREAM if self._native_url() else CameraEntityFeature(0)

    @override
    async def stream_source(self) -> str | None:
        """The camera's RTSP URL with the owner's login (HA's stream and go2rtc open it)."""
        return self._native_url()

    @override
    async def async_camera_image(self, width: int | None = None, height: int | None = None) -> bytes | None:
        """Return the latest image: the newest live frame while someone watches live; the zones
        and masks drawn on the last detection."""
        if self.entity_description.live and (frame := self.hub.live.frame(self.agent)) is not None:
            return frame
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

    @override
    async def handle_async_mjpeg_stream(self, request: web.Request) -> web.StreamResponse | None:
        """Live frames while the stream is open, from a camera agent that streams live; else stills."""
        if not (self.entity_description.live and can_stream(self.agent)):
            return await super().handle_async_mjpeg_stream(request)
        description = self.entity_description
        return await self.hub.live.async_stream(request, self.agent, lambda: description.image_fn(self.agent))
