"""Receives an event's chunks and acknowledges each once it is on disk; the recorder's front.

The camera agent keeps a chunk in its spool until the core's `chunk_ack` (docs/protocol.md,
"Recording rules"), so the ack is sent only after the chunk and the event's record are
fsynced under `<media>/bobby_camera/<camera>/<day>/<event>/`. A chunk that cannot be
stored for now (disk full, read-only folder) gets no ack: the camera sends it again.
A chunk that can never be stored (not MPEG-TS, a sequence number past the event's last)
is refused for good with `ok: false`. Duplicates are acknowledged again and stored once.

`Recordings` takes chunks and snapshots in and is what the platforms ask about clips; the
other jobs have modules of their own: `index` (the events and what all parts share),
`assembly` (when an event ends, its clip), `retention` (old clips out), `disk` (the
storage issue). Nothing here raises into the MQTT callback: each chunk is handled in a
task that logs.
"""

from __future__ import annotations

import dataclasses
import errno
import time
from pathlib import Path
from typing import Any, Final

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .. import protocol
from ..agent import Agent
from ..const import CLIP_CHANNEL, CONF_MAX_DISK_MB, CONF_RETENTION_DAYS, DEFAULT_OPTIONS, LOGGER
from ..problems import create_issue, delete_issue
from .assembly import CUT_SHORT_AFTER, Assembler
from .disk import StorageFullError, StorageIssue
from .index import ClipIndex, HubLinks, throttled_log
from .limits import ChunkGate
from .retention import Retention
from .store import CLIP_FILE, FOLDER, RECORDING, ChunkRecord, ClipStore, EventRecord

SNAPSHOT_SLACK: Final = 15.0  # s: a snapshot this long before the event's start belongs to it
RESERVE_BYTES: Final = 64 * 1024 * 1024  # free space left on the disk for Home Assistant itself
MPEGTS_PACKET: Final = 188
ACKS_UNREAD_AFTER: Final = 3  # one acknowledged chunk sent this many times in a row: the acks do not arrive
ISSUE_ACKS_UNREAD: Final = "chunk_ack_unread_"


def is_mpegts(video: bytes) -> bool:
    """Whether the bytes are MPEG-TS packets: 188-byte packets, each starting with the sync byte."""
    return len(video) % MPEGTS_PACKET == 0 and video[::MPEGTS_PACKET] == b"G" * (len(video) // MPEGTS_PACKET)


def media_dir(hass: HomeAssistant) -> Path:
    """Home Assistant's media folder (the `local` one, as the media browser's "My media" shows it)."""
    dirs = hass.config.media_dirs
    return Path(dirs.get("local") or next(iter(dirs.values()), None) or hass.config.path("media"))


class Recordings:
    """The clips of one hub: chunk reception and acks, wired to assembly and retention."""

    def __init__(self, hass: HomeAssistant, links: HubLinks, options: dict[str, Any]) -> None:
        """Read the retention options; nothing runs until async_load."""
        self.hass = hass
        options = {**DEFAULT_OPTIONS, **options}
        max_bytes = int(float(options[CONF_MAX_DISK_MB]) * 1024 * 1024)
        store, log = ClipStore(media_dir(hass) / FOLDER), throttled_log()
        self.links = links
        self.index = index = ClipIndex(
            hass, links, store, StorageIssue(hass, store.root, max_bytes, log), log
        )
        self.assembler = Assembler(index, cleanup=self._async_cleanup)
        self.retention = Retention(
            index,
            keep_days=float(options[CONF_RETENTION_DAYS]),
            max_bytes=max_bytes,
            busy=self.assembler.busy,
        )
        self.chunks_received = 0
        self.chunks_refused = 0
        self.chunks_unstored = 0  # not stored for now (disk): the camera sends them again
        self._snapshots: dict[str, tuple[float, bytes]] = {}  # camera → (arrival, JPEG)
        self.gate = ChunkGate(hass)
        self._resends: dict[str, tuple[tuple[str, int], int]] = {}  # camera → (last chunk resent, times)

    # --- life cycle -------------------------------------------------------------------

    async def async_load(self) -> None:
        """Rebuild the index from disk (before the hub subscribes: no chunk may find it empty)."""
        for record in await self.hass.async_add_executor_job(self.store.load):
            self.events[record.key] = record

    @callback
    def async_start(self) -> None:
        """Watch events left open by a restart, publish known clips, start the cleanup."""
        self.assembler.async_start()
        for agent in self.links.agents.values():
            self.index.refresh_last_clip(agent)
        self.retention.async_start()

    @callback
    def async_stop(self) -> None:
        """Cancel timers (open events are watched again after the next start)."""
        self.retention.async_stop()
        self.assembler.async_stop()

    async def _async_cleanup(self) -> None:
        await self.retention.async_cleanup()

    # --- what platforms and the media source read ---------------------------------------

    @property
    def store(self) -> ClipStore:
        """The event folders on disk."""
        return self.index.store

    @property
    def events(self) -> dict[tuple[str, str], EventRecord]:
        """Every known event by (camera, event)."""
        return self.index.events

    def url(self, record: EventRecord, name: str = CLIP_FILE) -> str:
        """The (authenticated) URL of a clip or snapshot."""
        return self.index.url(record, name)

    def last_clip(self, camera: str) -> EventRecord | None:
        """The camera's newest event with a finished clip."""
        return self.index.last_clip(camera)

    # --- incoming ---------------------------------------------------------------------

    def on_chunk(self, agent: Agent, data: tuple[protocol.ChunkHeader, bytes]) -> None:
        """The hub's `chunk` channel handler: the work goes to a task (disk I/O must not block).

        A chunk the gate does not take (an unknown camera, a ceiling, too much waiting for the
        disk) is dropped here, before it costs anything more, and not acknowledged.
        """
        header, video = data
        self.chunks_received += 1
        new_event = (agent.agent_id, header["event"]) not in self.events
        if not self.gate.admit(agent, len(video), new_event):
            return
        self.links.background(self._async_chunk_safely(agent, header, video), f"chunk {header['event']}")

    def on_snapshot(self, agent: Agent, image: bytes) -> None:
        """A detection snapshot: keep it for events of this camera that have none."""
        self._snapshots[agent.agent_id] = (time.time(), image)
        for record in self.events.values():
            if record.camera == agent.agent_id and record.recording and not record.snapshot:
                record.snapshot = True
                self.links.background(self.index.async_write_snapshot(record, image), "snapshot")

    async def _async_chunk_safely(self, agent: Agent, header: protocol.ChunkHeader, video: bytes) -> None:
        try:
            await self._async_chunk(agent, header, video)
        except Exception:
            LOGGER.exception(
                "Recording chunk %s/%s of %s failed", header["event"], header["seq"], agent.agent_id
            )
        finally:
            self.gate.done(len(video))

    async def _async_chunk(self, agent: Agent, header: protocol.ChunkHeader, video: bytes) -> None:
        key = (agent.agent_id, header["event"])
        log = self.index.log
        async with self.index.lock(key):
            record = self.events.get(key)
            if (refusal := self._refusal(record, header, video)) is not None:
                self.chunks_refused += 1
                log.warning(
                    "Refusing recording chunk %s/%s of camera %s: %s",
                    header["event"],
                    header["seq"],
                    agent.agent_id,
                    refusal,
                    key="refused",
                )
                await self._async_ack(agent, header, refusal)
                return
            if record is None and not video:
                # The closing chunk of an event the core never got a chunk of: nothing to keep.
                log.warning(
                    "Camera %s closed event %s, of which no chunk arrived; nothing to assemble",
                    agent.agent_id,
                    header["event"],
                    key="unknown_event",
                )
                await self._async_ack(agent, header)
                return
            if record is not None and header["seq"] in record.chunks:
                await self._async_ack(agent, header)  # a resend of a stored chunk
                self._resent(agent, key, header["seq"])
                return
            new = record is None
            record = record or self._new_record(header)
            if not await self._async_store(record, header, video):
                if new:
                    self.index.locks.pop(key, None)
                return
            self.events[key] = record
            await self._async_ack(agent, header)
            self._progress(agent)
            self._take_snapshot(record)
        self.links.signals.refresh(agent, CLIP_CHANNEL, hub_wide=False)
        self.assembler.after_chunk(record)

    def _resent(self, agent: Agent, key: tuple[str, str], seq: int) -> None:
        """A chunk already acknowledged came again: once is a lost ack, ACKS_UNREAD_AFTER times in a
        row is a camera that does not receive its chunk_ack (its login may not read it; Mosquitto's
        acl_file does not refuse the subscription, so the camera cannot tell): a repair says so."""
        chunk = (key[1], seq)
        last, count = self._resends.get(agent.agent_id, (None, 0))
        count = count + 1 if last == chunk else 1
        self._resends[agent.agent_id] = (chunk, count)
        if count == ACKS_UNREAD_AFTER:
            topic = protocol.build_topic(
                self.links.base_topic, protocol.KIND_CAMERA, agent.agent_id, "chunk_ack"
            )
            LOGGER.warning(
                "Camera %s sent chunk %s/%d %d times although it was acknowledged each time: it does not "
                "receive %s. Give its login read access to that topic in the broker's ACL",
                agent.agent_id,
                key[1],
                seq,
                count,
                topic,
            )
            create_issue(
                self.hass,
                f"{ISSUE_ACKS_UNREAD}{agent.agent_id}",
                "chunk_ack_unread",
                {"camera": agent.agent_id, "topic": topic},
            )

    def _progress(self, agent: Agent) -> None:
        """A new chunk of the camera was stored: it reads its acks (it would not send more otherwise)."""
        if self._resends.pop(agent.agent_id, None) is not None:
            delete_issue(self.hass, f"{ISSUE_ACKS_UNREAD}{agent.agent_id}")

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
        # The sender's clock is not trusted to order anything: an event dated in the future
        # (a wrong clock, or a client that wants its event listed first) starts now.
        now = time.time()
        event_start = min(header.get("event_start", header["start"]), now)
        day = dt_util.as_local(dt_util.utc_from_timestamp(event_start)).date().isoformat()
        return EventRecord(
            camera=header["camera"],
            event=header["event"],
            day=day,
            event_start=event_start,
            reason=header.get("reason"),
            received_at=now,
        )

    async def _async_store(self, record: EventRecord, header: protocol.ChunkHeader, video: bytes) -> bool:
        """Write the chunk and the record durably; False (no ack, nothing changed) when it cannot be."""
        seq = header["seq"]
        before = dataclasses.replace(record, chunks=dict(record.chunks))
        try:
            if video:
                await self.retention.async_make_room(len(video), record.camera)
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
            self.index.storage.failed(err, self.index.used_bytes, record.camera)
            return False
        self.index.storage.ok(record.camera)
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
            protocol.encode_chunk_ack(header["event"], header["seq"], error, header.get("token")),
            qos=protocol.QOS["chunk_ack"],
            retain=False,
        )

    def _take_snapshot(self, record: EventRecord) -> None:
        """Save the camera's detection snapshot for the event, if one arrived around its start."""
        if record.snapshot or (found := self._snapshots.get(record.camera)) is None:
            return
        arrived, image = found
        if arrived >= record.event_start - SNAPSHOT_SLACK:
            record.snapshot = True
            self.links.background(self.index.async_write_snapshot(record, image), "snapshot")

    def diagnostics(self) -> dict[str, Any]:
        """Settings and counters for the diagnostics download."""
        return {
            "retention_days": self.retention.keep_days,
            "max_disk_mb": self.retention.max_bytes / 1048576,
            "used_mb": round(self.index.used_bytes / 1048576, 3),
            "cut_short_after": CUT_SHORT_AFTER,
            "events": len(self.events),
            "recording": [f"{r.camera}/{r.event}" for r in self.index.recording_events()],
            "chunks_received": self.chunks_received,
            "chunks_refused": self.chunks_refused,
            "chunks_not_stored_yet": self.chunks_unstored,
            "chunks_from_unknown_cameras": self.gate.unknown,
            "chunks_over_limit": self.gate.over_limit,
            "chunks_deferred": self.gate.deferred,
            "storage_problem": self.index.storage.problem,
        }
