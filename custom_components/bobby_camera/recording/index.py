"""The events of one hub's recordings, and what every part of the recorder shares about them.

`ClipIndex` holds the index (rebuilt from disk at start), the per-event locks, the links
to the hub, and the few operations every part needs: save an event's record, write its
snapshot, and say what automations and platforms get about a clip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from ..agent import Agent
from ..const import DOMAIN, LOGGER
from ..logthrottle import LogThrottle
from ..signals import Signals
from .disk import StorageIssue
from .store import CLIP_FILE, CUT_SHORT, SNAPSHOT_FILE, ClipStore, EventRecord

URL_PREFIX: Final = "/api/bobby_camera/recordings"
MEDIA_PREFIX: Final = f"media-source://{DOMAIN}"

WARN_EVERY: Final = 60.0  # s: one warning per kind of trouble (a bad chunk, a failing disk) a minute

type EventKey = tuple[str, str]  # (camera, event)


def throttled_log() -> LogThrottle:
    """The recorder's log: one warning per kind of trouble a minute, never the payload."""
    return LogThrottle(LOGGER, WARN_EVERY)


@dataclass(frozen=True, slots=True)
class HubLinks:
    """What the recordings need of the hub that builds them, and no more."""

    base_topic: str
    agents: Mapping[str, Agent]  # by agent key, read only
    signals: Signals  # refresh a camera's entities; its person event entity gets clip_ready
    fire: Callable[[str, Agent | None, dict[str, Any]], None]  # a bus event naming the device
    background: Callable[[Coroutine[Any, Any, None], str], None]  # a task of the config entry


@dataclass(slots=True)
class ClipIndex:
    """The known events of one hub and the state the recorder's parts share."""

    hass: HomeAssistant
    links: HubLinks
    store: ClipStore
    storage: StorageIssue
    log: LogThrottle
    events: dict[EventKey, EventRecord] = field(default_factory=dict)
    locks: dict[EventKey, asyncio.Lock] = field(default_factory=dict)

    def lock(self, key: EventKey) -> asyncio.Lock:
        """The lock of one event: its chunks and its event.json are written in order."""
        return self.locks.setdefault(key, asyncio.Lock())

    def forget(self, key: EventKey) -> None:
        """Drop an event (deleted from disk, or never stored)."""
        self.events.pop(key, None)
        self.locks.pop(key, None)

    @property
    def used_bytes(self) -> int:
        """Bytes of chunks and clips the index knows of."""
        return sum(r.stored_bytes for r in self.events.values())

    async def async_save_record(self, record: EventRecord) -> None:
        """Write event.json, under the event's lock: writes land in the order the record changed."""
        async with self.lock(record.key):
            try:
                await self.hass.async_add_executor_job(self.store.write_record, record, record.dump())
            except OSError as err:
                self.storage.failed(err, self.used_bytes, record.camera)

    async def async_write_snapshot(self, record: EventRecord, image: bytes) -> None:
        """Save the event's snapshot; on failure the event has none (a later one may take its place)."""
        try:
            await self.hass.async_add_executor_job(self.store.write_snapshot, record, image)
        except OSError as err:
            record.snapshot = False
            self.log.warning("Could not save the snapshot of event %s: %s", record.event, err, key="snapshot")

    # --- what platforms, automations and the media source read ---------------------------

    def url(self, record: EventRecord, name: str = CLIP_FILE) -> str:
        """The (authenticated) URL of a clip or snapshot."""
        return f"{URL_PREFIX}/{self.store.relative(record, name)}"

    @staticmethod
    def media_content_id(record: EventRecord) -> str:
        """The media-source id of an event."""
        return f"{MEDIA_PREFIX}/{record.camera}/{record.day}/{record.event}"

    def last_clip(self, camera: str) -> EventRecord | None:
        """The camera's newest event with a finished clip."""
        done = [r for r in self.events.values() if r.camera == camera and not r.recording and r.has_clip]
        return max(done, key=lambda r: r.event_start, default=None)

    def recording_events(self) -> list[EventRecord]:
        """Events whose chunks are still arriving."""
        return [r for r in self.events.values() if r.recording]

    @callback
    def refresh_last_clip(self, agent: Agent) -> None:
        """Put the camera's last clip on its agent (the Last clip sensor reads it)."""
        if not agent.is_camera or (record := self.last_clip(agent.agent_id)) is None:
            return
        agent.last_clip = self.clip_summary(record)

    def clip_summary(self, record: EventRecord) -> dict[str, Any]:
        """What automations and the Last clip sensor get about a clip."""
        return {
            "camera": record.camera,
            "event": record.event,
            "media_content_id": self.media_content_id(record),
            "url": self.url(record),
            "snapshot_url": self.url(record, SNAPSHOT_FILE) if record.snapshot else None,
            "start": dt_util.utc_from_timestamp(record.event_start).isoformat(),
            "duration": record.clip_duration,
            "reason": record.reason,
            "cut_short": record.state == CUT_SHORT,
            "ready": dt_util.utc_from_timestamp(record.finished_at or record.event_start).isoformat(),
        }
