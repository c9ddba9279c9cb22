"""The media browser's view of the clips: Bobby Camera → camera → day → event, newest first.

Reads the recorder's index (rebuilt from disk at start, so clips survive a restart); the
clip and its snapshot are served by recording.http (signed URLs for the browser).
"""

from __future__ import annotations

from typing import override

from homeassistant.components.media_player.const import MediaClass, MediaType
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from . import protocol
from .agent import agent_key
from .const import DOMAIN
from .recording.manager import Recordings
from .recording.store import CUT_SHORT, SNAPSHOT_FILE, EventRecord

MIME_MP4 = "video/mp4"


async def async_get_media_source(hass: HomeAssistant) -> BobbyMediaSource:
    """The media source of Bobby Camera's clips."""
    return BobbyMediaSource(hass)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


class BobbyMediaSource(MediaSource):
    """Recorded events of every Bobby camera."""

    name = "Bobby Camera"

    def __init__(self, hass: HomeAssistant) -> None:
        """A source over the loaded hub's recordings."""
        super().__init__(DOMAIN)
        self.hass = hass

    def _recordings(self) -> Recordings:
        entries = self.hass.config_entries.async_loaded_entries(DOMAIN)
        if not entries:
            raise BrowseError("Bobby Camera is not loaded")
        recordings: Recordings = entries[0].runtime_data.recordings
        return recordings

    def _camera_name(self, camera: str) -> str:
        entries = self.hass.config_entries.async_loaded_entries(DOMAIN)
        agent = (
            entries[0].runtime_data.agents.get(agent_key(protocol.KIND_CAMERA, camera)) if entries else None
        )
        return camera if agent is None else agent.name

    @override
    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        """The clip of an event (what has arrived, while it still records)."""
        try:
            recordings = self._recordings()
        except BrowseError as err:
            raise Unresolvable(str(err)) from err
        record = self._event(recordings, item.identifier)
        if record is None or not record.has_clip:
            raise Unresolvable(f"No clip for {item.identifier}")
        return PlayMedia(recordings.url(record), MIME_MP4)

    @staticmethod
    def _event(recordings: Recordings, identifier: str) -> EventRecord | None:
        camera, _, rest = identifier.partition("/")
        day, _, event = rest.partition("/")
        record = recordings.events.get((camera, event))
        return record if record is not None and record.day == day else None

    @override
    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        """Cameras, then days, then events; newest first."""
        recordings = self._recordings()
        parts = [p for p in (item.identifier or "").split("/") if p]
        records = list(recordings.events.values())
        if not parts:
            cameras = sorted({r.camera for r in records}, key=self._camera_name)
            return self._folder(
                None, self.name or DOMAIN, [self._folder(c, self._camera_name(c)) for c in cameras]
            )
        camera = parts[0]
        if len(parts) == 1:
            days = sorted({r.day for r in records if r.camera == camera}, reverse=True)
            if not days:
                raise BrowseError(f"No recordings of camera {camera}")
            children = [self._folder(f"{camera}/{day}", day) for day in days]
            return self._folder(camera, self._camera_name(camera), children)
        if len(parts) == 2:
            events = sorted(
                (r for r in records if r.camera == camera and r.day == parts[1]),
                key=lambda r: r.event_start,
                reverse=True,
            )
            if not events:
                raise BrowseError(f"No recordings of camera {camera} on {parts[1]}")
            title = f"{self._camera_name(camera)} · {parts[1]}"
            return self._folder(
                f"{camera}/{parts[1]}", title, [self._event_item(recordings, r) for r in events]
            )
        record = self._event(recordings, "/".join(parts))
        if record is None:
            raise BrowseError(f"Unknown recording {item.identifier}")
        return self._event_item(recordings, record)

    def _folder(
        self, identifier: str | None, title: str, children: list[BrowseMediaSource] | None = None
    ) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier,
            media_class=MediaClass.DIRECTORY,
            media_content_type=MediaType.VIDEO,
            title=title,
            can_play=False,
            can_expand=True,
            children=children,
            children_media_class=MediaClass.VIDEO
            if identifier and identifier.count("/") == 1
            else MediaClass.DIRECTORY,
        )

    def _event_item(self, recordings: Recordings, record: EventRecord) -> BrowseMediaSource:
        start = dt_util.as_local(dt_util.utc_from_timestamp(record.event_start))
        title = f"{start:%H:%M:%S} · {_duration(record.clip_duration)}"
        if record.recording:
            title += " · recording"
        elif record.state == CUT_SHORT:
            title += " · cut short"
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=f"{record.camera}/{record.day}/{record.event}",
            media_class=MediaClass.VIDEO,
            media_content_type=MIME_MP4,
            title=title,
            can_play=record.has_clip,
            can_expand=False,
            thumbnail=recordings.url(record, SNAPSHOT_FILE) if record.snapshot else None,
        )
