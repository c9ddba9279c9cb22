"""The recorder: turns triggers and a stream of encoded packets into spooled, sent chunks.

It is the `PacketSink` every source feeds (through `FrameEncoder` for JPEG sources). Each
packet goes into the pre-roll ring and, while an event lasts, into the chunk being cut.
An event starts on a trigger (a detection of this camera, or a `record` command) with
the ring's video from `pre_roll` seconds before the trigger, lasts while triggers keep
coming plus `post_roll`, and ends at `max_event` seconds at the next keyframe (a new
event follows at once if triggers are still coming). Event times are capture times
(Unix seconds), the same clock as a detection's `frame_time`.

Packets arrive on the source's thread and are only sorted here; muxing, the disk and
the network happen on the recorder's own thread (and the delivery thread).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from dataclasses import dataclass

from ...config import DEFAULT_CHUNK_SECONDS, DEFAULT_MAX_EVENT, DEFAULT_POST_ROLL, DEFAULT_PRE_ROLL
from ...protocol import CHUNK_TARGET_BYTES, encode_chunk
from .chunker import ChunkCutter, ChunkInfo, duration_of, mux_mpegts
from .delivery import Delivery
from .packets import EncodedPacket, StreamFormat
from .ring import PreRollRing
from .spool import Spool

_LOGGER = logging.getLogger(__name__)

RING_SLACK = 5.0  # seconds kept beyond the pre-roll: a detection arrives after its frame
RING_MAX_BYTES = 48 * 1024 * 1024  # guard for a stream without keyframes (RSS on a Pi Zero)
STALL_GRACE = 3.0  # an event ends this long after its end time even if no packet comes
TICK = 0.5


@dataclass(frozen=True, slots=True)
class RecordSettings:
    pre_roll: float = DEFAULT_PRE_ROLL
    post_roll: float = DEFAULT_POST_ROLL
    max_event: float = DEFAULT_MAX_EVENT
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS


@dataclass(slots=True)
class _Event:
    event: str
    reason: str
    event_start: float  # trigger time
    end: float  # capture time at which the event stops, unless extended
    seq: int = 0
    origin: float | None = None  # capture time of its first packet: the timeline's zero


@dataclass(frozen=True, slots=True)
class _Job:
    info: ChunkInfo
    packets: list[EncodedPacket]
    stream_format: StreamFormat | None
    origin: float


def new_event_id(when: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(when)) + "-" + secrets.token_hex(3)


class Recorder:
    def __init__(self, camera: str, settings: RecordSettings, spool: Spool, delivery: Delivery) -> None:
        self.camera = camera
        self.settings = settings
        self.spool = spool
        self.delivery = delivery
        self.ring = PreRollRing(settings.pre_roll + RING_SLACK, RING_MAX_BYTES)
        self.events_recorded = 0
        self.chunks_spooled = 0
        self._format: StreamFormat | None = None
        self._event: _Event | None = None
        self._cutter = ChunkCutter(settings.chunk_seconds, CHUNK_TARGET_BYTES)
        self._rollover: _Event | None = None  # the event that follows at the next keyframe
        self._lock = threading.Lock()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        for interrupted in self.spool.load():
            # The previous run died during this event: tell the core it ended here.
            info = ChunkInfo(
                self.camera,
                interrupted.event,
                interrupted.next_seq,
                interrupted.event_start,
                0.0,
                True,
                interrupted.event_start,
                interrupted.reason,
            )
            _LOGGER.warning("event %s was cut short by a restart: closing it", interrupted.event)
            self._jobs.put(_Job(info, [], None, interrupted.event_start))
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()
        self.delivery.start()

    def stop(self) -> None:
        """End the event in progress (its last chunk is spooled), then stop the threads."""
        self.end_event()
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.delivery.stop()

    # --- triggers (any thread) ----------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self._event is not None

    def trigger(self, when: float, reason: str, lasts: float | None = None) -> None:
        """Someone is there at capture time `when` (a detection), or record `lasts` seconds from now."""
        end = when + (self.settings.post_roll if lasts is None else lasts)
        with self._lock:
            event = self._rollover or self._event
            if event is not None:
                event.end = max(event.end, end)
                return
            event = _Event(new_event_id(when), reason, when, end)
            self._event = event
            self.events_recorded += 1
            self.spool.begin(event.event, when, reason)
            _LOGGER.info(
                "event %s started (%s), pre-roll from %.1f s before",
                event.event,
                reason,
                self.settings.pre_roll,
            )
            for packet in self.ring.since(when - self.settings.pre_roll):
                self._record(packet)

    def end_event(self) -> None:
        """Finish the event now (camera disabled, shutdown)."""
        with self._lock:
            self._rollover = None
            if self._event is not None:
                self._finish(None)

    def clear(self) -> None:
        """Forget the pre-roll (the camera was disabled: nothing it saw may be kept)."""
        self.end_event()
        self.ring.clear()

    # --- PacketSink (the source's thread) -------------------------------------------

    def set_format(self, stream_format: StreamFormat) -> None:
        with self._lock:
            if stream_format == self._format:
                return
            # A new stream: old packets cannot be muxed with it. End the event's current
            # file; if the event goes on, it goes on as a new event from the next keyframe.
            if self._event is not None:
                continuing = self._event
                self._finish(None)
                self._rollover = continuing
            self.ring.clear()
            self._format = stream_format

    def write(self, packet: EncodedPacket) -> None:
        with self._lock:
            self.ring.add(packet)
            if self._rollover is not None and packet.keyframe:
                self._start_rollover(packet.time)
            if self._event is not None:
                self._record(packet)

    # --- internals (under the lock) ----------------------------------------------------

    def _start_rollover(self, when: float) -> None:
        previous, self._rollover = self._rollover, None
        assert previous is not None
        if when >= previous.end:
            return  # it was over anyway
        event = _Event(new_event_id(when), previous.reason, when, previous.end)
        self._event = event
        self.events_recorded += 1
        self.spool.begin(event.event, when, event.reason)
        _LOGGER.info("event %s follows %s (still going)", event.event, previous.event)

    def _record(self, packet: EncodedPacket) -> None:
        event = self._event
        assert event is not None
        if packet.time >= event.end:
            self._finish(None)
            return
        if event.origin is None:
            if not packet.keyframe:
                return
            event.origin = packet.time
        if packet.keyframe and packet.time - event.origin >= self.settings.max_event:
            self._finish(packet.time)
            self._rollover = event
            self._start_rollover(packet.time)
            self._record(packet)
            return
        done = self._cutter.add(packet)
        if done:
            self._queue_chunk(done, packet.time, last=False)

    def _finish(self, end: float | None) -> None:
        event = self._event
        assert event is not None
        packets = self._cutter.take()
        self._event = None
        if event.origin is None:
            # Not one frame was recorded: the event never existed for the core.
            self.spool.close_event(event.event)
            _LOGGER.warning("event %s ended without video (is the camera capturing?)", event.event)
            return
        self._queue_chunk(packets, end, last=True, event=event)
        _LOGGER.info("event %s ended after %d chunks", event.event, event.seq)

    def _queue_chunk(
        self, packets: list[EncodedPacket], end: float | None, last: bool, event: _Event | None = None
    ) -> None:
        event = event or self._event
        assert event is not None
        assert event.origin is not None
        fps = self._format.fps if self._format else 1.0
        start = packets[0].time if packets else event.origin
        info = ChunkInfo(
            self.camera,
            event.event,
            event.seq,
            start,
            duration_of(packets, end, fps),
            last,
            event.event_start,
            event.reason,
        )
        event.seq += 1
        self._jobs.put(_Job(info, packets, self._format, event.origin))

    # --- the recorder's thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=TICK)
            except queue.Empty:
                self._end_if_stalled()
                continue
            if job is None:
                return
            self._store(job)

    def _end_if_stalled(self) -> None:
        # The source stopped giving packets (a failing camera): end the event on the clock.
        with self._lock:
            event = self._event
            if event is not None and time.time() > event.end + STALL_GRACE:
                _LOGGER.warning("no video since the end of event %s: ending it", event.event)
                self._finish(None)

    def _store(self, job: _Job) -> None:
        try:
            media = (
                mux_mpegts(job.packets, job.stream_format, job.origin)
                if job.packets and job.stream_format
                else b""
            )
        except Exception as err:  # a mux failure loses this chunk, never the recorder
            _LOGGER.error("could not write chunk %s/%d: %s", job.info.event, job.info.seq, err)
            media = b""
            if not job.info.last:
                return
        payload = encode_chunk(job.info.header(), media)
        if self.spool.put(job.info.event, job.info.seq, payload, job.info.last):
            self.chunks_spooled += 1
            self.delivery.notify()
            _LOGGER.debug(
                "spooled chunk %s/%d (%.1f s, %d bytes)",
                job.info.event,
                job.info.seq,
                job.info.duration,
                len(payload),
            )
