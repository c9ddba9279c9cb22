"""The packet sink: how already-encoded video enters the recorder.

This is the whole interface a video source implements to record without re-encoding
(picamera2's hardware H.264 encoder, an RTSP camera's own packets):

    sink.set_format(StreamFormat(codec="h264", width=1280, height=720, fps=15.0, extradata=sps_pps))
    for each encoded frame, in decoding order:
        sink.write(EncodedPacket(data=access_unit, time=unix_capture_time, keyframe=is_idr))

Rules for the caller:
- `data` is one access unit (one frame) in Annex B byte-stream form (start codes, as
  the Pi's encoder and FFmpeg's RTSP demuxer give it). H.264 (`h264`) or H.265 (`hevc`).
- `time` is the Unix time (seconds) the frame was captured; times increase. It places
  the frame in the pre-roll and in the chunk timeline (MPEG-TS timestamps derive from it).
- `keyframe` is true for an IDR frame. Chunks and the pre-roll are cut only at
  keyframes, so send one about every 2 s (a keyframe interval of about 2 × fps), and
  never less often than every 10 s (a chunk is at most 10 s, cut at keyframes).
  Packets before the first keyframe are dropped (nothing can decode them).
- No B-frames: decoding order is presentation order (the chunk muxer sets pts = dts
  from `time`). The Pi's encoder, x264 with `zerolatency` and most IP cameras' live
  streams qualify; a stream with B-frames needs pts/dts here first.
- `extradata` holds the parameter sets (SPS/PPS, Annex B) when keyframes do not carry
  them in-band (RTSP gives them in the SDP); None when every keyframe repeats them.
- Call `set_format` before the first packet and again whenever the stream changes
  (resolution, codec, a camera that reconnected): the recorder starts a new GOP chain.
- `write` is cheap and never blocks on disk or network: call it from the thread that
  receives the packets (picamera2's encoder thread, an RTSP reader). One writer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

CODECS = ("h264", "hevc")


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """What the packets are: an FFmpeg codec name, the frame size and the nominal rate."""

    codec: str
    width: int
    height: int
    fps: float
    extradata: bytes | None = None

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"codec {self.codec!r} cannot be recorded: use one of {', '.join(CODECS)}")
        if self.width <= 0 or self.height <= 0 or self.fps <= 0:
            raise ValueError(f"stream format {self.width}x{self.height} at {self.fps} fps is not valid")


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One encoded frame (Annex B access unit), its capture time (Unix s) and whether it is an IDR."""

    data: bytes
    time: float
    keyframe: bool


class PacketSink(Protocol):
    """Where encoded video goes; the recorder implements it."""

    def set_format(self, stream_format: StreamFormat) -> None:
        """The stream that the following packets belong to."""

    def write(self, packet: EncodedPacket) -> None:
        """One packet, in decoding order; cheap, never blocks on I/O."""
