"""When an event ends, and its clip: cut-short timers, assembly, `bobby_camera_clip_ready`.

An event ends with its last chunk, or is cut short when no chunk came for
`CUT_SHORT_AFTER` seconds (the camera is gone): either way its chunks are remuxed into
one MP4 and `bobby_camera_clip_ready` fires. A chunk that arrives later (a camera back
with its spool) reopens the event and the clip is assembled again. While an event
records, the clip is re-assembled after each chunk, so what has arrived plays at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_call_later

from .. import protocol
from ..agent import agent_key
from ..const import CLIP_CHANNEL, CLIP_READY, EVENT_CLIP_READY, LOGGER
from .assemble import AssemblyError, assemble_clip, first_frame_jpeg
from .index import ClipIndex, EventKey
from .store import CLIP_FILE, CUT_SHORT, ENDED, EventRecord

CUT_SHORT_AFTER: Final = 45.0  # s without a chunk: the camera is gone (chunks are ≤ 10 s, resends every 30 s)
RETRY_AFTER: Final = 60.0  # s: a clip the disk refused is assembled again


class Assembler:
    """Watches open events and turns their chunks into clips, one assembly per event at a time."""

    def __init__(self, index: ClipIndex, *, cleanup: Callable[[], Awaitable[None]]) -> None:
        """`cleanup()` applies retention once a clip is final."""
        self.index = index
        self._cleanup = cleanup
        self._cut_short: dict[EventKey, CALLBACK_TYPE] = {}
        self._assembling: set[EventKey] = set()
        self._assemble_again: set[EventKey] = set()
        self._retry: dict[EventKey, CALLBACK_TYPE] = {}  # clips a storage error kept from being written

    @staticmethod
    def complete(record: EventRecord) -> bool:
        """Whether the event's clip was written from every chunk stored."""
        return record.has_clip and record.clip_chunks == len(record.chunks)

    def busy(self, record: EventRecord) -> bool:
        """Whether the event's clip is being assembled."""
        return record.key in self._assembling

    @callback
    def async_start(self) -> None:
        """Watch events left open by a restart; assemble those whose clip a restart interrupted."""
        for record in self.index.events.values():
            if record.recording:
                self._arm_cut_short(record)  # the camera resends, or it is gone
            elif record.chunks and not self.complete(record):
                self.schedule(record)  # a restart between the last chunk and the clip, or a full disk

    @callback
    def async_stop(self) -> None:
        """Cancel the cut-short timers (open events are watched again after the next start)."""
        for cancel in [*self._cut_short.values(), *self._retry.values()]:
            cancel()
        self._cut_short.clear()
        self._retry.clear()

    def after_chunk(self, record: EventRecord) -> None:
        """A chunk was stored: the event ends, or waits for more; its clip is assembled again."""
        if record.last_seq is not None and not record.missing_ranges():
            self._cancel_cut_short(record)
            record.state = ENDED
        else:
            self._arm_cut_short(record)  # also while a last chunk waits for missing ones
        self.schedule(record)

    def _arm_cut_short(self, record: EventRecord) -> None:
        self._cancel_cut_short(record)
        self._cut_short[record.key] = async_call_later(
            self.index.hass, CUT_SHORT_AFTER, partial(self._event_cut_short, record)
        )

    def _cancel_cut_short(self, record: EventRecord) -> None:
        if (cancel := self._cut_short.pop(record.key, None)) is not None:
            cancel()

    @callback
    def _event_cut_short(self, record: EventRecord, _now: Any = None) -> None:
        self._cut_short.pop(record.key, None)
        if not record.recording:
            return
        LOGGER.info(
            "Event %s of camera %s cut short: no chunk for %.0f s (missing: %s); assembling what arrived",
            record.event,
            record.camera,
            CUT_SHORT_AFTER,
            record.missing_summary(),
        )
        record.state = CUT_SHORT
        self.schedule(record)

    def schedule(self, record: EventRecord) -> None:
        """Assemble the event's clip now, or once more when the running assembly ends."""
        if record.key in self._assembling:
            self._assemble_again.add(record.key)
            return
        self._assembling.add(record.key)
        self.index.links.background(self._async_assemble(record), f"clip {record.event}")

    async def _async_assemble(self, record: EventRecord) -> None:
        try:
            while True:
                self._assemble_again.discard(record.key)
                if record.chunks:
                    await self._async_assemble_once(record)
                if record.key not in self._assemble_again:
                    break
        except Exception:
            LOGGER.exception("Assembling the clip of event %s failed", record.event)
        finally:
            self._assembling.discard(record.key)
            self._assemble_again.discard(record.key)
        if not record.recording and record.finished_at is None and record.key in self.index.events:
            await self._async_clip_ready(record)

    async def _async_assemble_once(self, record: EventRecord) -> None:
        index = self.index
        files = index.store.chunk_files(record)
        target = index.store.event_dir(record) / CLIP_FILE
        LOGGER.debug("Assembling the clip of event %s from %d chunk(s)", record.event, len(files))
        try:
            clip = await index.hass.async_add_executor_job(assemble_clip, files, target)
        except AssemblyError as err:
            index.log.warning(
                "No clip for event %s of camera %s: %s", record.event, record.camera, err, key="assembly"
            )
            return
        except OSError as err:
            # The disk, not the video: the chunks are intact. No clip is announced until one
            # is written whole; a stale clip of fewer chunks goes, and the clip is built again.
            index.storage.failed(err, index.used_bytes, f"{record.camera} clips")
            await self._async_drop_clip(record)
            self._retry_later(record)
            return
        index.storage.ok(f"{record.camera} clips")  # its chunk writes are tracked apart
        record.clip_duration, record.clip_bytes, record.clip_chunks = clip.duration, clip.bytes, len(files)
        await index.async_save_record(record)

    async def _async_drop_clip(self, record: EventRecord) -> None:
        # The file first: the record says "no clip" only once none is there to be served.
        clip = self.index.store.event_dir(record) / CLIP_FILE
        try:
            await self.index.hass.async_add_executor_job(partial(clip.unlink, missing_ok=True))
        except OSError as err:  # a folder in its way; the next assembly fails the same way
            LOGGER.debug("Cannot remove the stale clip %s: %s", clip, err)
        record.clip_duration = record.clip_bytes = None
        record.clip_chunks = 0
        await self.index.async_save_record(record)

    def _retry_later(self, record: EventRecord) -> None:
        """Assemble the clip again after RETRY_AFTER (until the disk takes it)."""
        if record.key in self._retry:
            return

        @callback
        def retry(_now: Any) -> None:
            self._retry.pop(record.key, None)
            if record.key in self.index.events and not record.has_clip:
                self.schedule(record)

        self._retry[record.key] = async_call_later(self.index.hass, RETRY_AFTER, retry)

    async def _async_clip_ready(self, record: EventRecord) -> None:
        """The final clip: snapshot fallback, bus event, event entity, Last clip sensor, cleanup."""
        if not self.complete(record):
            return  # not written (a full disk): announced once it is, when assembled again
        index = self.index
        if not record.snapshot:
            clip = index.store.event_dir(record) / CLIP_FILE
            if (image := await index.hass.async_add_executor_job(first_frame_jpeg, clip)) is not None:
                record.snapshot = True
                await index.async_write_snapshot(record, image)
        record.finished_at = time.time()
        await index.async_save_record(record)
        summary = index.clip_summary(record)
        LOGGER.debug("Clip ready: %s", summary)
        links = index.links
        agent = links.agents.get(agent_key(protocol.KIND_CAMERA, record.camera))
        links.fire(EVENT_CLIP_READY, agent, summary)
        if agent is not None:
            agent.last_clip = summary
            links.signals.send(links.signals.person(agent), CLIP_READY, summary)
            links.signals.refresh(agent, CLIP_CHANNEL, hub_wide=False)
        await self._cleanup()
