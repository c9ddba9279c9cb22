"""The on-disk spool: every chunk stays here until the core acknowledges it.

A broker's PUBACK only says the broker has a message; a Home Assistant that is
restarting never gets it. So a chunk is written here before it is published, and
deleted only when the core says it has the chunk safely (`chunk_ack`). The spool
survives a restart of the agent (even SIGKILL): what is on disk is sent again.

Layout: `<dir>/<event>/event.json` (the event's facts and next sequence number) and
`<dir>/<event>/<seq>.chunk` (the exact MQTT payload). Files are written to a temporary
name, flushed to disk and renamed, so a crash never leaves half a chunk under a real name.

The spool is bounded (`max_bytes`): when a new chunk does not fit, the oldest event is
dropped whole (logged, counted), then, if the current event alone is too big, its own
oldest chunks: a recording in progress keeps its newest video.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ...protocol import MAX_CHUNK_HEADER_BYTES, is_valid_event_id

_LOGGER = logging.getLogger(__name__)

EVENT_FILE = "event.json"
CHUNK_SUFFIX = ".chunk"


@dataclass(slots=True)
class SpooledEvent:
    event: str
    event_start: float
    reason: str
    next_seq: int = 0
    open: bool = True  # no last chunk yet
    chunks: dict[int, int] = field(default_factory=dict)  # seq → bytes on disk, not yet acknowledged


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.events_dropped = 0
        self.chunks_dropped = 0
        self._events: dict[str, SpooledEvent] = {}  # oldest first
        self._bytes = 0
        self._lock = threading.Lock()

    # --- reading what a previous run left -----------------------------------------

    def load(self) -> list[SpooledEvent]:
        """Read the spool from disk; returns the events a previous run left open (it died)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        found: list[SpooledEvent] = []
        for folder in self.directory.iterdir():
            entry = self._load_event(folder) if folder.is_dir() else None
            if entry is not None:
                found.append(entry)
        found.sort(key=lambda e: (e.event_start, e.event))
        with self._lock:
            for entry in found:
                self._events[entry.event] = entry
                self._bytes += sum(entry.chunks.values())
        if found:
            _LOGGER.info(
                "spool %s holds %d unacknowledged chunks (%d bytes) of %d events: sending them",
                self.directory,
                sum(len(e.chunks) for e in found),
                self._bytes,
                len(found),
            )
        return [e for e in found if e.open]

    def _load_event(self, folder: Path) -> SpooledEvent | None:
        try:
            meta = json.loads((folder / EVENT_FILE).read_text())
            entry = SpooledEvent(
                str(meta["event"]),
                float(meta["event_start"]),
                str(meta["reason"]),
                int(meta["next_seq"]),
                bool(meta["open"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            _LOGGER.warning("ignoring %s in the spool: no readable %s (%s)", folder, EVENT_FILE, err)
            return None
        if entry.event != folder.name or not is_valid_event_id(entry.event):
            _LOGGER.warning("ignoring %s in the spool: it names event %r", folder, entry.event)
            return None
        for path in folder.glob(f"*{CHUNK_SUFFIX}"):
            with contextlib.suppress(ValueError, OSError):
                entry.chunks[int(path.stem)] = path.stat().st_size
        for tmp in folder.glob("*.tmp"):  # a write the crash interrupted
            tmp.unlink(missing_ok=True)
        if not entry.chunks and not entry.open:
            shutil.rmtree(folder, ignore_errors=True)  # all acknowledged; only the folder was left
            return None
        return entry

    # --- writing --------------------------------------------------------------------

    def begin(self, event: str, event_start: float, reason: str) -> None:
        entry = SpooledEvent(event, event_start, reason)
        (self.directory / event).mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._events[event] = entry
            self._save_meta(entry)

    def put(self, event: str, seq: int, payload: bytes, last: bool) -> bool:
        """Store one chunk (durably) before it is sent; False if it cannot be kept at all."""
        with self._lock:
            entry = self._events.get(event)
            if entry is None:
                _LOGGER.error(
                    "chunk %s/%d has no event in the spool (dropped earlier?): not kept", event, seq
                )
                self.chunks_dropped += 1
                return False
            if len(payload) > self.max_bytes:
                _LOGGER.error(
                    "chunk %s/%d of %d bytes is larger than the whole spool (%d bytes): not kept; "
                    "raise spool_max_mb",
                    event,
                    seq,
                    len(payload),
                    self.max_bytes,
                )
                self.chunks_dropped += 1
                return False
            self._make_room(len(payload), keep=event)
            try:
                _write_atomic(self.directory / event / f"{seq:06d}{CHUNK_SUFFIX}", payload)
            except OSError as err:
                _LOGGER.error("cannot write chunk %s/%d to the spool %s: %s", event, seq, self.directory, err)
                self.chunks_dropped += 1
                return False
            entry.chunks[seq] = len(payload)
            self._bytes += len(payload)
            entry.next_seq = max(entry.next_seq, seq + 1)
            entry.open = entry.open and not last
            self._save_meta(entry)
            return True

    def _save_meta(self, entry: SpooledEvent) -> None:
        meta = {
            "event": entry.event,
            "event_start": entry.event_start,
            "reason": entry.reason,
            "next_seq": entry.next_seq,
            "open": entry.open,
        }
        try:
            _write_atomic(self.directory / entry.event / EVENT_FILE, json.dumps(meta).encode())
        except OSError as err:
            _LOGGER.error("cannot write %s for event %s: %s", EVENT_FILE, entry.event, err)

    def _make_room(self, size: int, keep: str) -> None:
        while self._bytes + size > self.max_bytes:
            older = next((e for e in self._events.values() if e.event != keep and e.chunks), None)
            if older is not None:
                self.events_dropped += 1
                self.chunks_dropped += len(older.chunks)
                _LOGGER.warning(
                    "spool full (%d of %d bytes): dropped event %s with %d unacknowledged chunks "
                    "(%d bytes) — "
                    "the core is not acknowledging; check Home Assistant and its disk",
                    self._bytes,
                    self.max_bytes,
                    older.event,
                    len(older.chunks),
                    sum(older.chunks.values()),
                )
                self._remove_event(older)
                continue
            current = self._events[keep]
            if not current.chunks:
                return
            seq = min(current.chunks)
            self.chunks_dropped += 1
            _LOGGER.warning("spool full: dropped chunk %s/%d of the event being recorded", keep, seq)
            self._remove_chunk(current, seq)

    # --- acknowledgements and reading back ---------------------------------------------

    def ack(self, event: str, seq: int) -> bool:
        """The core has the chunk: forget it. False for one we do not hold (a duplicate ack)."""
        with self._lock:
            entry = self._events.get(event)
            if entry is None or seq not in entry.chunks:
                return False
            self._remove_chunk(entry, seq)
            if not entry.open and not entry.chunks:
                self._remove_event(entry)
            return True

    def _remove_chunk(self, entry: SpooledEvent, seq: int) -> None:
        self._bytes -= entry.chunks.pop(seq)
        (self.directory / entry.event / f"{seq:06d}{CHUNK_SUFFIX}").unlink(missing_ok=True)

    def _remove_event(self, entry: SpooledEvent) -> None:
        self._bytes -= sum(entry.chunks.values())
        entry.chunks.clear()
        if entry.open:
            return  # still recording: its folder and event.json stay for the chunks to come
        del self._events[entry.event]
        shutil.rmtree(self.directory / entry.event, ignore_errors=True)

    def close_event(self, event: str) -> None:
        """Mark an event finished without a chunk (nothing left to send)."""
        with self._lock:
            entry = self._events.get(event)
            if entry is not None and entry.open:
                entry.open = False
                self._save_meta(entry)
                if not entry.chunks:
                    self._remove_event(entry)

    def pending(self) -> list[tuple[str, int]]:
        """Unacknowledged chunks, oldest event first, in sequence order."""
        with self._lock:
            return [(e.event, seq) for e in self._events.values() for seq in sorted(e.chunks)]

    def read(self, event: str, seq: int) -> bytes | None:
        try:
            return (self.directory / event / f"{seq:06d}{CHUNK_SUFFIX}").read_bytes()
        except OSError:
            return None  # acknowledged or dropped meanwhile

    def token(self, event: str, seq: int) -> str | None:
        """The token in a spooled chunk's header ("" when spooled without one); None if not held."""
        try:
            with (self.directory / event / f"{seq:06d}{CHUNK_SUFFIX}").open("rb") as handle:
                line = handle.readline(MAX_CHUNK_HEADER_BYTES + 1)
            header = json.loads(line)
        except (OSError, ValueError):
            return None
        token = header.get("token") if isinstance(header, dict) else None
        return token if isinstance(token, str) else ""

    def next_seq(self, event: str) -> int:
        with self._lock:
            entry = self._events.get(event)
            return entry.next_seq if entry else 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    @property
    def nchunks(self) -> int:
        with self._lock:
            return sum(len(e.chunks) for e in self._events.values())
