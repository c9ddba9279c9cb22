"""Real recording chunks for the core's tests: libx264 through PyAV, muxed by the camera agent's own muxer.

An event of `chunks` chunks of `seconds` each at `fps`, a keyframe at the start of every
chunk, timestamps continuing across chunks (docs/protocol.md, `chunk`): exactly what a
camera agent publishes, without running one.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np

from bobby_edge import protocol
from bobby_edge.camera.recording.chunker import ChunkInfo, mux_mpegts
from bobby_edge.camera.recording.packets import EncodedPacket, StreamFormat


@dataclass(frozen=True)
class Chunk:
    """One chunk: its header and its MPEG-TS bytes."""

    header: dict[str, Any]
    video: bytes

    @property
    def payload(self) -> bytes:
        """The MQTT payload: header line, newline, video."""
        return protocol.encode_chunk(self.header, self.video)


def encode_frames(count: int, fps: float, width: int, height: int, gop: int) -> list[tuple[bytes, bool]]:
    """`count` frames of a moving square as H.264 access units (Annex B), keyframe every `gop`."""
    codec: Any = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, round(fps))
    codec.framerate = Fraction(round(fps))
    codec.gop_size = gop
    codec.max_b_frames = 0
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "forced-idr": "1"}
    out: list[tuple[bytes, bool]] = []
    for i in range(count):
        image = np.full((height, width, 3), 40, dtype=np.uint8)
        x = (i * 7) % max(1, width - 16)
        image[8:24, x : x + 16] = (230, 60, 60)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        frame.pict_type = av.video.frame.PictureType.I if i % gop == 0 else av.video.frame.PictureType.NONE
        out += [(bytes(p), bool(p.is_keyframe)) for p in codec.encode(frame)]
    out += [(bytes(p), bool(p.is_keyframe)) for p in codec.encode(None)]
    return out


def make_event(
    camera: str = "porch",
    event: str = "20261125-134510-a3f09c",
    *,
    chunks: int = 3,
    seconds: float = 2.0,
    fps: float = 10.0,
    width: int = 160,
    height: int = 120,
    start: float = 1_795_000_000.0,
    last: bool = True,
) -> list[Chunk]:
    """The chunks of one event, as a camera agent cuts and muxes them."""
    per_chunk = round(seconds * fps)
    frames = encode_frames(per_chunk * chunks, fps, width, height, gop=per_chunk)
    stream = StreamFormat("h264", width, height, fps)
    out: list[Chunk] = []
    for seq in range(chunks):
        part = frames[seq * per_chunk : (seq + 1) * per_chunk]
        packets = [
            EncodedPacket(data, start + (seq * per_chunk + i) / fps, keyframe)
            for i, (data, keyframe) in enumerate(part)
        ]
        info = ChunkInfo(
            camera=camera,
            event=event,
            seq=seq,
            start=packets[0].time,
            duration=per_chunk / fps,
            last=last and seq == chunks - 1,
            event_start=start + seconds / 2,
            reason="detection",
        )
        out.append(Chunk({"v": protocol.SCHEMA_VERSION, **info.header()}, mux_mpegts(packets, stream, start)))
    return out


def decoded_duration(path: str, fps: float) -> tuple[int, float]:
    """(frames decoded, seconds from the first frame's start to the last frame's end)."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * f.time_base) for f in container.decode(stream) if f.pts is not None]
    return len(times), (max(times) - min(times) + 1.0 / fps) if times else 0.0
