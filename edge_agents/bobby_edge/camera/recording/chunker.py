"""Cutting an event's packets into chunks, and muxing one chunk into MPEG-TS.

A chunk is a self-contained file: it starts with a keyframe (with its parameter sets),
and MPEG-TS needs no index at the end, so a chunk plays even if the next never comes
(a plain MP4 cut off before its `moov` box is unreadable). Timestamps count from the
event's first packet and continue across its chunks, so the core can join the chunks of
one event with a plain remux.

`ChunkCutter` decides where chunks end: only before a keyframe, and early enough that a
chunk stays within `max_seconds` (it learns the keyframe spacing from the stream) and
well under the payload limit.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ... import protocol
from .packets import EncodedPacket, StreamFormat

MPEGTS_TIME_BASE = Fraction(1, 90_000)


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """The header facts of one chunk (docs/protocol.md, `chunk`)."""

    camera: str
    event: str
    seq: int
    start: float  # Unix time of the first frame
    duration: float  # seconds of video
    last: bool
    event_start: float  # Unix time the event was triggered (first detection / command)
    reason: str  # "detection" or "command"
    # Random per chunk, echoed by the core's chunk_ack: the spool deletes a chunk only on an
    # ack that carries it, so only a client that read the chunk can make the camera drop it.
    token: str = field(default_factory=protocol.new_chunk_token)

    def header(self) -> dict[str, Any]:
        return {
            "camera": self.camera,
            "event": self.event,
            "seq": self.seq,
            "start": round(self.start, 3),
            "duration": round(self.duration, 3),
            "last": self.last,
            "event_start": round(self.event_start, 3),
            "reason": self.reason,
            "format": "mpegts",
            "token": self.token,
        }


class ChunkCutter:
    """Collects an event's packets; says when a chunk is complete (at a keyframe)."""

    def __init__(self, max_seconds: float, max_bytes: int) -> None:
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.packets: list[EncodedPacket] = []
        self._bytes = 0
        self._keyframe_spacing = 0.0  # seconds between the last two keyframes seen
        self._gop_bytes = 0  # bytes of the last complete GOP
        self._last_keyframe: EncodedPacket | None = None
        self._bytes_at_keyframe = 0

    def add(self, packet: EncodedPacket) -> list[EncodedPacket] | None:
        """Add a packet; returns the finished chunk when this keyframe must start a new one."""
        done = None
        if packet.keyframe:
            if self._last_keyframe is not None:
                self._keyframe_spacing = packet.time - self._last_keyframe.time
                self._gop_bytes = self._bytes - self._bytes_at_keyframe
            if self.packets and self._full_before(packet):
                done = self.take()
            self._last_keyframe = packet
            self._bytes_at_keyframe = self._bytes
        elif not self.packets:
            return None  # a chunk starts with a keyframe
        self.packets.append(packet)
        self._bytes += len(packet.data)
        return done

    def _full_before(self, keyframe: EncodedPacket) -> bool:
        # Would one more GOP like the last one push the chunk past its limits?
        elapsed = keyframe.time - self.packets[0].time
        return (
            elapsed + self._keyframe_spacing > self.max_seconds + 0.001
            or self._bytes + self._gop_bytes > self.max_bytes
        )

    def take(self) -> list[EncodedPacket]:
        packets, self.packets = self.packets, []
        self._bytes = 0
        self._bytes_at_keyframe = 0
        return packets

    @property
    def nbytes(self) -> int:
        return self._bytes


def duration_of(packets: list[EncodedPacket], end: float | None, fps: float) -> float:
    """From the first frame to `end` (the next chunk's first frame), or one frame past the last."""
    if not packets:
        return 0.0
    stop = end if end is not None else packets[-1].time + 1.0 / fps
    return max(0.0, stop - packets[0].time)


def mux_mpegts(packets: list[EncodedPacket], stream_format: StreamFormat, origin: float) -> bytes:
    """One MPEG-TS file of `packets`, timestamps in seconds since `origin` (the event's first frame)."""
    import av  # PyAV: present wherever recording runs

    out = io.BytesIO()
    container: Any = av.open(out, mode="w", format="mpegts")
    try:
        stream = container.add_stream(
            stream_format.codec, rate=Fraction(stream_format.fps).limit_denominator(1000)
        )
        stream.width = stream_format.width
        stream.height = stream_format.height
        stream.time_base = MPEGTS_TIME_BASE
        if stream_format.extradata:
            stream.codec_context.extradata = stream_format.extradata
        last_pts = -1
        for item in packets:
            packet = av.Packet(item.data)
            # No B-frames on these paths: presentation order is decoding order (pts = dts).
            pts = max(round((item.time - origin) / MPEGTS_TIME_BASE), last_pts + 1)
            last_pts = pts
            packet.pts = packet.dts = pts
            packet.time_base = MPEGTS_TIME_BASE
            packet.is_keyframe = item.keyframe
            packet.stream = stream
            container.mux(packet)
    finally:
        container.close()
    return out.getvalue()
