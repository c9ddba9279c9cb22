"""The view that serves clips and snapshots: `/api/bobby_camera/recordings/<camera>/<day>/<event>/<file>`.

Authenticated like the rest of Home Assistant's API; the media source hands out signed
URLs (media_source/resolve_media signs relative URLs), so a `<video>` element or a
phone can fetch them. aiohttp's FileResponse answers Range requests: browsers seek.
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from homeassistant.core import HomeAssistant
from homeassistant.helpers.http import HomeAssistantView

from .. import protocol
from ..const import DOMAIN
from .store import FOLDER, SERVED_FILES, is_valid_day

CONTENT_TYPES = {"clip.mp4": "video/mp4", "snapshot.jpg": "image/jpeg"}


class RecordingView(HomeAssistantView):
    """Serves the files of recorded events from the clip folder."""

    url = "/api/bobby_camera/recordings/{camera}/{day}/{event}/{name}"
    name = f"api:{DOMAIN}:recordings"
    requires_auth = True

    def __init__(self, hass: HomeAssistant) -> None:
        """Serve from the clip folder of the hub that is loaded."""
        self.hass = hass

    async def get(
        self, request: web.Request, camera: str, day: str, event: str, name: str
    ) -> web.StreamResponse:
        """Return the file, or 404 for anything that is not a recorded event's clip or snapshot."""
        if not (
            protocol.is_valid_agent_id(camera)
            and is_valid_day(day)
            and protocol.is_valid_event_id(event)
            and name in SERVED_FILES
        ):
            return web.Response(status=HTTPStatus.NOT_FOUND)
        entries = self.hass.config_entries.async_loaded_entries(DOMAIN)
        if not entries:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        root = entries[0].runtime_data.recordings.store.root
        path = root / camera / day / event / name
        if not await self.hass.async_add_executor_job(path.is_file):
            return web.Response(status=HTTPStatus.NOT_FOUND)
        return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES[name]})


def register(hass: HomeAssistant) -> None:
    """Register the view once (it outlives reloads of the entry; it finds the loaded one)."""
    if hass.http is not None and not hass.data.get(f"{DOMAIN}_{FOLDER}_view"):
        hass.data[f"{DOMAIN}_{FOLDER}_view"] = True
        hass.http.register_view(RecordingView(hass))
