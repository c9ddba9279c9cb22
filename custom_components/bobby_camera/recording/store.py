"""The clips on disk: `<media>/bobby_camera/<camera>/<day>/<event>/`; the index is what disk holds.

An event's folder holds its chunks as received (`chunk-000000.ts`, ...), `event.json`
(what the core knows of the event), the detection snapshot (`snapshot.jpg`) and, once
assembled, `clip.mp4`. Every write goes to a temporary name, is fsynced, then renamed:
a chunk acknowledged to the camera survives a crash or power cut of Home Assistant, and
a reader never sees half a file. The index is rebuilt from these folders at start.

Blocking: every function here runs in an executor job.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from .. import protocol
from ..const import LOGGER

FOLDER: Final = "bobby_camera"
EVENT_FILE: Final = "event.json"
CLIP_FILE: Final = "clip.mp4"
SNAPSHOT_FILE: Final = "snapshot.jpg"
SERVED_FILES: Final = frozenset({CLIP_FILE, SNAPSHOT_FILE})
_CHUNK_RE: Final = re.compile(r"chunk-(\d{6})\.ts")
_DAY_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

RECORDING: Final = "recording"  # chunks are arriving
ENDED: Final = "ended"  # the last chunk arrived
CUT_SHORT: Final = "cut_short"  # the camera went silent before its last chunk


def chunk_name(seq: int) -> str:
    """File name of chunk `seq`."""
    return f"chunk-{seq:06d}.ts"


def is_valid_day(value: str) -> bool:
    """Whether a path level is a day folder (YYYY-MM-DD)."""
    return bool(_DAY_RE.fullmatch(value))


@dataclass(slots=True)
class ChunkRecord:
    """What the header of a stored chunk said."""

    start: float
    duration: float
    bytes: int


@dataclass(slots=True)
class EventRecord:
    """One event of one camera, as `event.json` stores it."""

    camera: str
    event: str
    day: str  # local date of the event's start: the folder it lives in
    event_start: float
    reason: str | None = None
    state: str = RECORDING
    chunks: dict[int, ChunkRecord] = field(default_factory=dict)
    last_seq: int | None = None  # known once the last chunk arrived
    clip_duration: float | None = None
    clip_bytes: int | None = None
    clip_chunks: int = 0  # chunks in the clip as last assembled
    snapshot: bool = False
    finished_at: float | None = None  # Unix time the final clip was ready
    received_at: float | None = None  # Unix time the core received its first chunk (None: older files)

    @property
    def received(self) -> float:
        """What retention ages and orders by: never later than when the core got the event.

        A sender's date in the future is ignored (it would never age out, and be listed first);
        one in the past (a camera's spool delivering last week's event) ages only its own clip.
        """
        return min(self.event_start, self.received_at if self.received_at is not None else self.event_start)

    @property
    def key(self) -> tuple[str, str]:
        """(camera, event)."""
        return (self.camera, self.event)

    @property
    def recording(self) -> bool:
        """Chunks are still expected."""
        return self.state == RECORDING

    @property
    def has_clip(self) -> bool:
        """A clip was assembled (while recording it holds what had arrived)."""
        return self.clip_duration is not None

    @property
    def stored_bytes(self) -> int:
        """Bytes of its chunks and clip (the snapshot and event.json are small)."""
        return sum(c.bytes for c in self.chunks.values()) + (self.clip_bytes or 0)

    @property
    def missing(self) -> list[int]:
        """Sequence numbers not received below the highest known (the last may carry no video).

        As long as the gaps are: a sender can claim chunk 999999; logs use missing_summary().
        """
        return [seq for first, last in self.missing_ranges() for seq in range(first, last + 1)]

    @property
    def missing_count(self) -> int:
        """How many sequence numbers are missing (computed from the chunks held, not the gaps)."""
        return sum(last - first + 1 for first, last in self.missing_ranges())

    def missing_ranges(self) -> list[tuple[int, int]]:
        """The gaps as (first, last) ranges: as many as chunks held, however large the numbers."""
        top = self.last_seq if self.last_seq is not None else max(self.chunks, default=-1)
        held = sorted({*self.chunks, *([self.last_seq] if self.last_seq is not None else [])})
        gaps: list[tuple[int, int]] = []
        expected = 0
        for seq in held:
            if seq > top:
                break
            if seq > expected:
                gaps.append((expected, seq - 1))
            expected = seq + 1
        return gaps

    def missing_summary(self, limit: int = 5) -> str:
        """The gaps for a log line: "none", or a count and the first few ranges ("3-7, 9 (6 missing)")."""
        gaps = self.missing_ranges()
        if not gaps:
            return "none"
        shown = ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in gaps[:limit])
        more = f", … {len(gaps) - limit} more ranges" if len(gaps) > limit else ""
        return f"{shown}{more} ({self.missing_count} missing)"

    def dump(self) -> bytes:
        """event.json's bytes."""
        return json.dumps(self.to_json(), indent=1).encode()

    def to_json(self) -> dict[str, Any]:
        """The content of event.json."""
        data = asdict(self)
        data["chunks"] = {str(seq): asdict(chunk) for seq, chunk in sorted(self.chunks.items())}
        return {"v": 1, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventRecord:
        """Read event.json (raises KeyError/TypeError/ValueError on a damaged file)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["chunks"] = {int(seq): ChunkRecord(**chunk) for seq, chunk in data["chunks"].items()}
        record = cls(**fields)
        if not (protocol.is_valid_agent_id(record.camera) and protocol.is_valid_event_id(record.event)):
            raise ValueError("bad camera or event id")
        if not is_valid_day(record.day):
            raise ValueError("bad day")
        return record


class ClipStore:
    """The folder tree under `<media>/bobby_camera`."""

    def __init__(self, root: Path) -> None:
        """`root` is `<media>/bobby_camera`."""
        self.root = root

    def event_dir(self, record: EventRecord) -> Path:
        """The folder of one event."""
        return self.root / record.camera / record.day / record.event

    def relative(self, record: EventRecord, name: str) -> str:
        """`<camera>/<day>/<event>/<name>`: the path under root (and in URLs)."""
        return f"{record.camera}/{record.day}/{record.event}/{name}"

    # --- writing (executor) -----------------------------------------------------------

    def write_chunk(self, record: EventRecord, seq: int, video: bytes, content: bytes) -> None:
        """Store a chunk durably (fsync of file and folder), then the event.json `content`."""
        folder = self.event_dir(record)
        folder.mkdir(parents=True, exist_ok=True)
        _write_durably(folder / chunk_name(seq), video)
        self.write_record(record, content)

    def write_record(self, record: EventRecord, content: bytes) -> None:
        """Store event.json durably (`content` is `record.dump()`, taken on the event loop)."""
        folder = self.event_dir(record)
        folder.mkdir(parents=True, exist_ok=True)
        _write_durably(folder / EVENT_FILE, content)

    def write_snapshot(self, record: EventRecord, image: bytes) -> None:
        """Store the detection snapshot beside the event."""
        folder = self.event_dir(record)
        folder.mkdir(parents=True, exist_ok=True)
        _write_durably(folder / SNAPSHOT_FILE, image)

    def chunk_files(self, record: EventRecord) -> list[Path]:
        """The event's chunk files in sequence order."""
        folder = self.event_dir(record)
        return [folder / chunk_name(seq) for seq in sorted(record.chunks)]

    def delete(self, record: EventRecord) -> None:
        """Remove an event's folder, and its day and camera folders once empty."""
        folder = self.event_dir(record)
        shutil.rmtree(folder, ignore_errors=True)
        for parent in (folder.parent, folder.parent.parent):
            try:
                parent.rmdir()
            except OSError:
                break  # not empty (or gone)

    # --- reading (executor) -----------------------------------------------------------

    def load(self) -> list[EventRecord]:
        """Every event on disk; chunk files on disk are the truth where event.json lags."""
        records: list[EventRecord] = []
        if not self.root.is_dir():
            return records
        for path in sorted(self.root.glob(f"*/*/*/{EVENT_FILE}")):
            try:
                record = EventRecord.from_json(json.loads(path.read_bytes()))
            except (OSError, ValueError, KeyError, TypeError) as err:
                LOGGER.warning(
                    "Ignoring recording folder %s: unreadable %s (%s)", path.parent, EVENT_FILE, err
                )
                continue
            if path.parent != self.event_dir(record):
                LOGGER.warning(
                    "Ignoring recording folder %s: its %s names another event", path.parent, EVENT_FILE
                )
                continue
            for leftover in path.parent.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)  # a write a crash interrupted
            on_disk = {int(m.group(1)) for f in path.parent.iterdir() if (m := _CHUNK_RE.fullmatch(f.name))}
            for seq in set(record.chunks) - on_disk:
                del record.chunks[seq]  # listed but lost (a damaged disk): the camera may send it again
            record.snapshot = (path.parent / SNAPSHOT_FILE).is_file()
            if not (path.parent / CLIP_FILE).is_file():
                record.clip_duration = record.clip_bytes = None
            records.append(record)
        return records

    def free_bytes(self) -> int:
        """Free space on the file system that holds root (or its nearest existing parent)."""
        path = self.root
        while not path.exists() and path != path.parent:
            path = path.parent
        return shutil.disk_usage(path).free


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")  # writers never share one
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
