"""Receives an event's chunks, acknowledges each once it is on disk, and assembles the clip.

The camera agent keeps a chunk in its spool until the core's `chunk_ack` (docs/protocol.md,
"Recording rules"), so the ack is sent only after the chunk and the event's record are
fsynced under `<media>/bobby_camera/<camera>/<day>/<event>/`. A chunk that cannot be
stored for now (disk full, read-only folder) gets no ack: the camera sends it again.
A chunk that can never be stored (not MPEG-TS, a sequence number past the event's last)
is refused for good with `ok: false`. Duplicates are acknowledged again and stored once.

An event ends with its last chunk, or is cut short when no chunk came for
`CUT_SHORT_AFTER` seconds (the camera is gone): either way its chunks are remuxed into
one MP4 and `bobby_camera_clip_ready` fires. A chunk that arrives later (a camera back
with its spool) reopens the event and the clip is assembled again. While an event
records, the clip is re-assembled after each chunk, so what has arrived plays at once.

Nothing here raises into the MQTT callback: each chunk is handled in a task that logs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.util import dt as dt_util

from .. import protocol
from ..agent import Agent, agent_key
from ..const import (
    CLIP_CHANNEL,
    CLIP_READY,
    CONF_MAX_DISK_MB,
    CONF_RETENTION_DAYS,
    DEFAULT_OPTIONS,
    DOMAIN,
    EVENT_CLIP_READY,
    LOGGER,
)
from ..problems import create_issue, delete_issue
from ..signals import Signals
from .assemble import AssemblyError, assemble_clip, first_frame_jpeg
from .retention import select_for_deletion
from .store import CLIP_FILE, CUT_SHORT, ENDED, FOLDER, RECORDING, ChunkRecord, ClipStore, EventRecord
from .throttle import ThrottledLog

CUT_SHORT_AFTER: Final = 45.0  # s without a chunk: the camera is gone (chunks are ≤ 10 s, resends every 30 s)
SNAPSHOT_SLACK: Final = 15.0  # s: a snapshot this long before the event's start belongs to it
RESERVE_BYTES: Final = 64 * 1024 * 1024  # free space left on the disk for Home Assistant itself
CLEANUP_EVERY: Final = timedelta(hours=1)
MPEGTS_PACKET: Final = 188
ISSUE_STORAGE: Final = "clip_storage"
URL_PREFIX: Final = "/api/bobby_camera/recordings"
MEDIA_PREFIX: Final = f"media-source://{DOMAIN}"


class StorageFullError(OSError):
    """Storing the chunk would break the disk budget or leave the disk without reserve."""


def is_mpegts(video: bytes) -> bool:
    """Whether the bytes are MPEG-TS packets: 188-byte packets, each starting with the sync byte."""
    return len(video) % MPEGTS_PACKET == 0 and video[::MPEGTS_PACKET] == b"G" * (len(video) // MPEGTS_PACKET)


def media_dir(hass: HomeAssistant) -> Path:
    """Home Assistant's media folder (the `local` one, as the media browser's "My media" shows it)."""
    dirs = hass.config.media_dirs
    return Path(dirs.get("local") or next(iter(dirs.values()), None) or hass.config.path("media"))


@dataclass(frozen=True, slots=True)
class HubLinks:
    """What the recordings need of the hub that builds them, and no more."""

    base_topic: str
    agents: Mapping[str, Agent]  # by agent key, read only
    signals: Signals  # refresh a camera's entities; its person event entity gets clip_ready
    fire: Callable[[str, Agent | None, dict[str, Any]], None]  # a bus event naming the device
    background: Callable[[Coroutine[Any, Any, None], str], None]  # a task of the config entry


class Recordings:
    """The clips of one hub: index of events, chunk reception, assembly, retention."""

    def __init__(self, hass: HomeAssistant, links: HubLinks, options: dict[str, Any]) -> None:
        """Read the retention options; nothing runs until async_load."""
        self.hass = hass
        self.links = links
        options = {**DEFAULT_OPTIONS, **options}
        self.keep_days = float(options[CONF_RETENTION_DAYS])
        self.max_bytes = int(float(options[CONF_MAX_DISK_MB]) * 1024 * 1024)
        self.store = ClipStore(media_dir(hass) / FOLDER)
        self.events: dict[tuple[str, str], EventRecord] = {}
        self.log = ThrottledLog()
        self.chunks_received = 0
        self.chunks_refused = 0
        self.chunks_unstored = 0  # not stored for now (disk): the camera sends them again
        self.storage_problem: str | None = None  # the issue's translation key while one is open
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._cut_short: dict[tuple[str, str], CALLBACK_TYPE] = {}
        self._assembling: set[tuple[str, str]] = set()
        self._assemble_again: set[tuple[str, str]] = set()
        self._snapshots: dict[str, tuple[float, bytes]] = {}  # camera → (arrival, JPEG)
        self._unsubscribe: list[CALLBACK_TYPE] = []

    # --- life cycle -------------------------------------------------------------------

    async def async_load(self) -> None:
        """Rebuild the index from disk (before the hub subscribes: no chunk may find it empty)."""
        for record in await self.hass.async_add_executor_job(self.store.load):
            self.events[record.key] = record

    @callback
    def async_start(self) -> None:
        """Watch events left open by a restart, publish known clips, start the cleanup."""
        for record in self.events.values():
            if record.recording:
                self._arm_cut_short(record)  # the camera resends, or it is gone
            elif not record.has_clip and record.chunks:
                self._schedule_assembly(record)  # a restart between the last chunk and the clip
        for agent in self.links.agents.values():
            self.refresh_last_clip(agent)
        self._unsubscribe.append(async_track_time_interval(self.hass, self._cleanup_timer, CLEANUP_EVERY))
        self._background(self.async_cleanup(), "cleanup")

    @callback
    def async_stop(self) -> None:
        """Cancel timers (open events are watched again after the next start)."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        for cancel in self._cut_short.values():
            cancel()
        self._cut_short.clear()

    def _background(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.links.background(coro, name)

    # --- what platforms and the media source read ---------------------------------------

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
            "snapshot_url": self.url(record, "snapshot.jpg") if record.snapshot else None,
            "start": dt_util.utc_from_timestamp(record.event_start).isoformat(),
            "duration": record.clip_duration,
            "reason": record.reason,
            "cut_short": record.state == CUT_SHORT,
            "ready": dt_util.utc_from_timestamp(record.finished_at or record.event_start).isoformat(),
        }

    # --- incoming ---------------------------------------------------------------------

    def on_chunk(self, agent: Agent, data: tuple[protocol.ChunkHeader, bytes]) -> None:
        """The hub's `chunk` channel handler: the work goes to a task (disk I/O must not block)."""
        header, video = data
        self.chunks_received += 1
        self._background(self._async_chunk_safely(agent, header, video), f"chunk {header['event']}")

    def on_snapshot(self, agent: Agent, image: bytes) -> None:
        """A detection snapshot: keep it for events of this camera that have none."""
        self._snapshots[agent.agent_id] = (time.time(), image)
        for record in self.events.values():
            if record.camera == agent.agent_id and record.recording and not record.snapshot:
                record.snapshot = True
                self._background(self._async_write_snapshot(record, image), "snapshot")

    async def _async_chunk_safely(self, agent: Agent, header: protocol.ChunkHeader, video: bytes) -> None:
        try:
            await self._async_chunk(agent, header, video)
        except Exception:
            LOGGER.exception(
                "Recording chunk %s/%s of %s failed", header["event"], header["seq"], agent.agent_id
            )

    async def _async_chunk(self, agent: Agent, header: protocol.ChunkHeader, video: bytes) -> None:
        key = (agent.agent_id, header["event"])
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            record = self.events.get(key)
            if (refusal := self._refusal(record, header, video)) is not None:
                self.chunks_refused += 1
                self.log.report(
                    "refused",
                    "Refusing recording chunk %s/%s of camera %s: %s",
                    header["event"],
                    header["seq"],
                    agent.agent_id,
                    refusal,
                )
                await self._async_ack(agent, header, refusal)
                return
            if record is None and not video:
                # The closing chunk of an event the core never got a chunk of: nothing to keep.
                self.log.report(
                    "unknown_event",
                    "Camera %s closed event %s, of which no chunk arrived; nothing to assemble",
                    agent.agent_id,
                    header["event"],
                )
                await self._async_ack(agent, header)
                return
            if record is not None and header["seq"] in record.chunks:
                await self._async_ack(agent, header)  # a resend of a stored chunk
                return
            new = record is None
            record = record or self._new_record(header)
            if not await self._async_store(record, header, video):
                if new:
                    self._locks.pop(key, None)
                return
            self.events[key] = record
            await self._async_ack(agent, header)
            self._take_snapshot(record)
        self.links.signals.refresh(agent, CLIP_CHANNEL, hub_wide=False)
        self._after_chunk(record)

    @staticmethod
    def _refusal(record: EventRecord | None, header: protocol.ChunkHeader, video: bytes) -> str | None:
        """Why this chunk can never be stored; None when it can."""
        seq = header["seq"]
        if video and not is_mpegts(video):
            return "not an MPEG-TS file"
        if record is None:
            return None
        if record.last_seq is not None and seq > record.last_seq and seq not in record.chunks:
            return f"sequence number {seq} comes after the event's last chunk {record.last_seq}"
        if header["last"] and record.chunks and seq < max(record.chunks):
            return f"last chunk {seq} comes before chunk {max(record.chunks)}, already stored"
        if header["last"] and record.last_seq is not None and seq != record.last_seq:
            return f"a second last chunk ({seq}; the last was {record.last_seq})"
        return None

    def _new_record(self, header: protocol.ChunkHeader) -> EventRecord:
        event_start = header.get("event_start", header["start"])
        day = dt_util.as_local(dt_util.utc_from_timestamp(event_start)).date().isoformat()
        return EventRecord(
            camera=header["camera"],
            event=header["event"],
            day=day,
            event_start=event_start,
            reason=header.get("reason"),
        )

    async def _async_store(self, record: EventRecord, header: protocol.ChunkHeader, video: bytes) -> bool:
        """Write the chunk and the record durably; False (no ack, nothing changed) when it cannot be."""
        seq = header["seq"]
        before = dataclasses.replace(record, chunks=dict(record.chunks))
        try:
            if video:
                await self._async_make_room(len(video))
                record.chunks[seq] = ChunkRecord(header["start"], header["duration"], len(video))
            if header["last"]:
                record.last_seq = seq
            if record.state != RECORDING:  # a late chunk reopens a cut-short event
                record.state, record.finished_at = RECORDING, None
            await self.hass.async_add_executor_job(self._write_chunk, record, seq, video, record.dump())
        except OSError as err:
            for name in ("chunks", "last_seq", "state", "finished_at"):
                setattr(record, name, getattr(before, name))
            self.chunks_unstored += 1
            self._storage_failed(err)
            return False
        self._storage_ok()
        return True

    def _write_chunk(self, record: EventRecord, seq: int, video: bytes, content: bytes) -> None:
        # Executor: the free-space check and the write in one job.
        if video and self.store.free_bytes() < len(video) + RESERVE_BYTES:
            raise StorageFullError(errno.ENOSPC, "the disk is nearly full")
        if video:
            self.store.write_chunk(record, seq, video, content)
        else:
            self.store.write_record(record, content)

    async def _async_ack(self, agent: Agent, header: protocol.ChunkHeader, error: str | None = None) -> None:
        await mqtt.async_publish(
            self.hass,
            protocol.build_topic(self.links.base_topic, protocol.KIND_CAMERA, agent.agent_id, "chunk_ack"),
            protocol.encode_chunk_ack(header["event"], header["seq"], error),
            qos=protocol.QOS["chunk_ack"],
            retain=False,
        )

    # --- snapshots --------------------------------------------------------------------

    def _take_snapshot(self, record: EventRecord) -> None:
        """Save the camera's detection snapshot for the event, if one arrived around its start."""
        if record.snapshot or (found := self._snapshots.get(record.camera)) is None:
            return
        arrived, image = found
        if arrived >= record.event_start - SNAPSHOT_SLACK:
            record.snapshot = True
            self._background(self._async_write_snapshot(record, image), "snapshot")

    async def _async_write_snapshot(self, record: EventRecord, image: bytes) -> None:
        try:
            await self.hass.async_add_executor_job(self.store.write_snapshot, record, image)
        except OSError as err:
            record.snapshot = False
            self.log.report("snapshot", "Could not save the snapshot of event %s: %s", record.event, err)

    # --- event end and assembly ---------------------------------------------------------

    def _after_chunk(self, record: EventRecord) -> None:
        if record.last_seq is not None and not record.missing:
            self._cancel_cut_short(record)
            record.state = ENDED
        else:
            self._arm_cut_short(record)  # also while a last chunk waits for missing ones
        self._schedule_assembly(record)

    def _arm_cut_short(self, record: EventRecord) -> None:
        self._cancel_cut_short(record)
        self._cut_short[record.key] = async_call_later(
            self.hass, CUT_SHORT_AFTER, partial(self._event_cut_short, record)
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
            record.missing or "none",
        )
        record.state = CUT_SHORT
        self._schedule_assembly(record)

    def _schedule_assembly(self, record: EventRecord) -> None:
        if record.key in self._assembling:
            self._assemble_again.add(record.key)  # once more when the running one ends
            return
        self._assembling.add(record.key)
        self._background(self._async_assemble(record), f"clip {record.event}")

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
        if not record.recording and record.finished_at is None and record.key in self.events:
            await self._async_clip_ready(record)

    async def _async_assemble_once(self, record: EventRecord) -> None:
        files = self.store.chunk_files(record)
        target = self.store.event_dir(record) / CLIP_FILE
        LOGGER.debug("Assembling the clip of event %s from %d chunk(s)", record.event, len(files))
        try:
            clip = await self.hass.async_add_executor_job(assemble_clip, files, target)
        except AssemblyError as err:
            self.log.report(
                "assembly", "No clip for event %s of camera %s: %s", record.event, record.camera, err
            )
            return
        except OSError as err:
            self._storage_failed(err)
            return
        record.clip_duration, record.clip_bytes, record.clip_chunks = clip.duration, clip.bytes, len(files)
        await self._async_save_record(record)

    async def _async_save_record(self, record: EventRecord) -> None:
        # Under the event's lock: event.json writes land in the order the record changed.
        async with self._locks.setdefault(record.key, asyncio.Lock()):
            try:
                await self.hass.async_add_executor_job(self.store.write_record, record, record.dump())
            except OSError as err:
                self._storage_failed(err)

    async def _async_clip_ready(self, record: EventRecord) -> None:
        """The final clip: snapshot fallback, bus event, event entity, Last clip sensor, cleanup."""
        if not record.has_clip:
            return
        if not record.snapshot:
            clip = self.store.event_dir(record) / CLIP_FILE
            if (image := await self.hass.async_add_executor_job(first_frame_jpeg, clip)) is not None:
                record.snapshot = True
                await self._async_write_snapshot(record, image)
        record.finished_at = time.time()
        await self._async_save_record(record)
        summary = self.clip_summary(record)
        LOGGER.debug("Clip ready: %s", summary)
        agent = self.links.agents.get(agent_key(protocol.KIND_CAMERA, record.camera))
        self.links.fire(EVENT_CLIP_READY, agent, summary)
        if agent is not None:
            agent.last_clip = summary
            self.links.signals.send(self.links.signals.person(agent), CLIP_READY, summary)
            self.links.signals.refresh(agent, CLIP_CHANNEL, hub_wide=False)
        await self.async_cleanup()

    # --- retention and storage problems ---------------------------------------------------

    @callback
    def _cleanup_timer(self, _now: Any) -> None:
        self._background(self.async_cleanup(), "cleanup")

    async def async_cleanup(self, incoming: int = 0) -> None:
        """Delete finished events older than the days to keep, then the oldest while over the budget."""
        doomed = select_for_deletion(
            self.events.values(),
            now=time.time(),
            keep_days=self.keep_days,
            max_bytes=self.max_bytes,
            incoming=incoming,
        )
        for record in doomed:
            if record.recording or record.key in self._assembling:
                continue  # reopened by a late chunk meanwhile
            self.events.pop(record.key, None)
            self._locks.pop(record.key, None)
            LOGGER.info("Deleting recorded event %s of camera %s (retention)", record.event, record.camera)
            await self.hass.async_add_executor_job(self.store.delete, record)
        if doomed:
            for agent in self.links.agents.values():
                clip = agent.last_clip
                if clip is not None and (agent.agent_id, clip["event"]) not in self.events:
                    agent.last_clip = None
                    self.refresh_last_clip(agent)
                    self.links.signals.refresh(agent, CLIP_CHANNEL, hub_wide=False)

    @property
    def used_bytes(self) -> int:
        """Bytes of chunks and clips the index knows of."""
        return sum(r.stored_bytes for r in self.events.values())

    async def _async_make_room(self, size: int) -> None:
        """Delete old finished events until `size` more bytes fit in the budget; else StorageFullError."""
        if self.used_bytes + size <= self.max_bytes:
            return
        await self.async_cleanup(incoming=size)
        if self.used_bytes + size > self.max_bytes:
            raise StorageFullError(errno.ENOSPC, "the maximum disk use for clips is reached")

    def _storage_failed(self, err: OSError) -> None:
        full = isinstance(err, StorageFullError) or err.errno in (errno.ENOSPC, errno.EDQUOT)
        key = "disk_full" if full else "storage_error"
        self.log.report(
            key,
            "Cannot store recordings under %s: %s. The cameras keep their chunks and send them again",
            self.store.root,
            err,
        )
        if self.storage_problem == key:
            return
        self.storage_problem = key
        create_issue(
            self.hass,
            ISSUE_STORAGE,
            key,
            {
                "path": str(self.store.root),
                "error": str(err.strerror or err),
                "used_mb": f"{self.used_bytes / 1048576:.0f}",
                "max_mb": f"{self.max_bytes / 1048576:.0f}",
            },
            severity=ir.IssueSeverity.ERROR,
        )

    def _storage_ok(self) -> None:
        if self.storage_problem is not None:
            LOGGER.info("Recordings are stored again under %s", self.store.root)
            self.storage_problem = None
            delete_issue(self.hass, ISSUE_STORAGE)

    def diagnostics(self) -> dict[str, Any]:
        """Settings and counters for the diagnostics download."""
        return {
            "retention_days": self.keep_days,
            "max_disk_mb": self.max_bytes / 1048576,
            "used_mb": round(self.used_bytes / 1048576, 3),
            "cut_short_after": CUT_SHORT_AFTER,
            "events": len(self.events),
            "recording": [f"{r.camera}/{r.event}" for r in self.recording_events()],
            "chunks_received": self.chunks_received,
            "chunks_refused": self.chunks_refused,
            "chunks_not_stored_yet": self.chunks_unstored,
            "storage_problem": self.storage_problem,
        }
