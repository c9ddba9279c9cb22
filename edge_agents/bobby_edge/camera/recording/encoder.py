"""Raw frames → H.264 packets with PyAV, for the sources that give JPEG frames (images:,
video:, http:). The packets go to the same `PacketSink` as a hardware encoder's.

Encoding runs on its own thread behind a short queue, so the capture loop's schedule is
never held up by it; when the encoder falls behind, frames are dropped (counted), never
queued without bound. The settings are those for a small CPU (measured in bench/ and
docs/performance.md): libx264 `ultrafast` + `zerolatency` (no B-frames, no look-ahead:
each frame leaves the encoder at once, so the pre-roll is current), one thread (x264's
frame threads each hold frames in memory), CRF 28 capped by a VBV rate so a 10 s chunk
stays far below the chunk limit. A keyframe is forced every `KEYFRAME_SECONDS` of
capture time, whatever the frame rate, so chunks and the pre-roll cut cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ...config import DEFAULT_RECORD_ENCODER
from .packets import EncodedPacket, PacketSink, StreamFormat

_LOGGER = logging.getLogger(__name__)

KEYFRAME_SECONDS = 2.0  # a keyframe interval of about 2 × fps frames at any fps
QUEUE_FRAMES = 4  # frames waiting for the encoder before new ones are dropped
TIME_BASE = Fraction(1, 1000)  # capture times in ms: frames come at an irregular rate
DEFAULT_ENCODER = DEFAULT_RECORD_ENCODER  # the option `record_encoder` (config.py)


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    codec: str = DEFAULT_ENCODER
    crf: int = 28
    max_kbps: int = 4000  # VBV cap: a 2 s keyframe interval ≤ 1 MB, under protocol.CHUNK_TARGET_BYTES
    preset: str = "ultrafast"


def encoder_options(settings: EncoderSettings) -> dict[str, str]:
    if settings.codec != "libx264":
        return {}  # other encoders (h264_v4l2m2m on a Pi) take only bit_rate
    return {
        "preset": settings.preset,
        "tune": "zerolatency",
        "forced-idr": "1",  # a forced I frame is an IDR: a chunk may start there
        "crf": str(settings.crf),
        "x264-params": f"vbv-maxrate={settings.max_kbps}:vbv-bufsize={2 * settings.max_kbps}",
    }


class FrameEncoder:
    """JPEG frames in (any thread), H.264 packets out to `sink` (from the encoder's thread)."""

    def __init__(self, sink: PacketSink, fps: float, settings: EncoderSettings | None = None) -> None:
        self.sink = sink
        self.fps = fps
        self.settings = settings or EncoderSettings()
        self.frames_dropped = 0
        self.frames_encoded = 0
        self.errors = 0
        self._queue: queue.Queue[tuple[bytes, float] | None] = queue.Queue(QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self._av: Any = None
        self._decoder: Any = None
        self._encoder: Any = None
        self._size: tuple[int, int] | None = None
        self._t0 = 0.0
        self._last_pts = -1
        self._last_keyframe = -float("inf")

    def start(self) -> None:
        import av  # PyAV is only needed once recording runs

        self._av = av
        self._thread = threading.Thread(target=self._run, name="record-encoder", daemon=True)
        self._thread.start()

    def submit(self, jpeg: bytes, capture_time: float) -> None:
        """Queue one captured JPEG for encoding; dropped (and counted) if the encoder is behind."""
        try:
            self._queue.put_nowait((jpeg, capture_time))
        except queue.Full:
            self.frames_dropped += 1

    def stop(self) -> None:
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=5)
        self._thread.join(timeout=10)
        self._thread = None

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._encode(*item)
            except Exception as err:  # a bad frame costs that frame, not the recording
                self.errors += 1
                _LOGGER.warning("could not encode a %d-byte frame for recording: %s", len(item[0]), err)
                if self.errors % 50 == 1:
                    _LOGGER.debug("encoder failure", exc_info=True)

    def _open(self, width: int, height: int, capture_time: float) -> None:
        av = self._av
        ctx = av.CodecContext.create(self.settings.codec, "w")
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = TIME_BASE
        ctx.framerate = Fraction(self.fps).limit_denominator(1000)
        ctx.gop_size = 10_000  # keyframes are forced by time instead
        # No B-frames, through libavcodec's generic option `bf`: PyAV 10 (Raspberry Pi OS
        # bookworm's python3-av) has no `max_b_frames` attribute.
        ctx.thread_count = 1
        ctx.bit_rate = self.settings.max_kbps * 1000
        ctx.options = {**encoder_options(self.settings), "bf": "0"}
        ctx.open()
        self._encoder = ctx
        self._size = (width, height)
        self._t0 = capture_time
        self._last_pts = -1
        self._last_keyframe = -float("inf")
        self.sink.set_format(StreamFormat("h264", width, height, self.fps))
        _LOGGER.info("recording encoder %s at %dx%d", self.settings.codec, width, height)

    def _encode(self, jpeg: bytes, capture_time: float) -> None:
        av = self._av
        if self._decoder is None:
            self._decoder = av.CodecContext.create("mjpeg", "r")
        frames = self._decoder.decode(av.Packet(jpeg))
        if not frames:
            return
        frame = frames[0]
        width, height = frame.width & ~1, frame.height & ~1  # 4:2:0 needs even sizes
        if self._size is None or self._size != (width, height):
            self._open(width, height, capture_time)
        frame = frame.reformat(width=width, height=height, format="yuv420p")
        pts = max(round((capture_time - self._t0) / TIME_BASE), self._last_pts + 1)
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = TIME_BASE
        keyframe_due = capture_time - self._last_keyframe >= KEYFRAME_SECONDS - 0.5 / max(self.fps, 1)
        # A decoded JPEG is marked I: clear it, or every frame would become a keyframe.
        picture = av.video.frame.PictureType
        frame.pict_type = picture.I if keyframe_due else picture.NONE
        for packet in self._encoder.encode(frame):
            self._emit(packet)
        self.frames_encoded += 1

    def _emit(self, packet: Any) -> None:
        keyframe = bool(packet.is_keyframe)
        time = self._t0 + float(packet.pts * TIME_BASE)
        if keyframe:
            self._last_keyframe = time
        self.sink.write(EncodedPacket(bytes(packet), time, keyframe))
