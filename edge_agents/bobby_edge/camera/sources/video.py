"""`video:FILE`: a video file, looped, played at its own speed (demos, tests).

Decoding uses PyAV (FFmpeg bindings: a dependency of bobby-edge, python3-av on Raspberry Pi OS).
Frames are taken on the video's own timeline, so a person walks at real speed whatever
the camera's fps; only the frames sent are encoded to JPEG.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import ConfigError, StartupError
from . import register
from .base import CaptureError, FrameSource, SourceOptions, fit_jpeg

_LOGGER = logging.getLogger(__name__)

MAX_LAG = 2.0  # seconds behind the video clock before we jump instead of decoding through

_now = time.monotonic  # the video clock's source (tests replace it)


@register("video")
class VideoFileSource(FrameSource):
    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        self.path = Path(target).expanduser()
        self._av: Any = None
        self._container: Any = None
        self._frames: Iterator[Any] | None = None
        self._t0 = 0.0  # monotonic time at which the video clock read 0
        self._paused_at: float | None = None
        self._offset = 0.0  # video time added by the loops played so far
        self._last_time = 0.0
        self._frame_duration = 0.04
        self._current: tuple[float, Any] | None = None
        self._pending: tuple[float, Any] | None = None
        self._encoded: tuple[float, bytes] | None = None  # (video time, JPEG)

    @property
    def description(self) -> str:
        return f"video: {self.path.name}"

    def open(self) -> None:
        if not self.target:
            raise ConfigError("source video: needs a file, e.g. --source video:/srv/demo.mp4")
        if not self.path.is_file():
            raise ConfigError(f"source video:{self.target}: file {self.path} does not exist")
        try:
            import av
        except ImportError:
            raise StartupError(
                "the video source needs PyAV: sudo apt install python3-av on Raspberry Pi OS, "
                "else pip install av"
            ) from None
        self._av = av
        try:
            self._container = av.open(str(self.path))
            stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError) as err:
            raise StartupError(
                f"cannot play {self.path} ({err}): give a video file FFmpeg can decode"
            ) from None
        stream.thread_type = "AUTO"
        if stream.average_rate:
            self._frame_duration = 1 / float(stream.average_rate)
        self._frames = self._container.decode(stream)
        self._t0 = _now()
        _LOGGER.info("playing %s (%s, looped)", self.path, stream.codec_context.name)

    def _decode_next(self) -> tuple[float, Any]:
        if self._frames is None or self._container is None:
            raise CaptureError(f"video {self.path} is not open")
        for attempt in range(2):
            try:
                frame = next(self._frames)
            except StopIteration:
                if attempt:
                    break
                # End of the file: start over, continuing the clock.
                self._offset += self._last_time + self._frame_duration
                self._container.seek(0)
                self._frames = self._container.decode(self._container.streams.video[0])
                continue
            except self._av.FFmpegError as err:
                raise CaptureError(f"cannot decode {self.path}: {err}") from None
            self._last_time = (
                float(frame.time) if frame.time is not None else self._last_time + self._frame_duration
            )
            return self._offset + self._last_time, frame
        raise CaptureError(f"{self.path} has no video frames")

    def read(self) -> bytes:
        now = _now() - self._t0
        if self._current is None:
            self._current = self._decode_next()
            self._pending = self._decode_next()
        if self._pending is None:
            raise CaptureError(f"video {self.path} is not open")
        if now - self._pending[0] > MAX_LAG:
            # Too far behind (a slow machine): jump the clock rather than decode a backlog.
            self._t0 += now - self._pending[0]
            now = self._pending[0]
        while self._pending[0] <= now:
            self._current, self._pending = self._pending, self._decode_next()
        when, frame = self._current
        if self._encoded is None or self._encoded[0] != when:
            self._encoded = (when, fit_jpeg(frame.to_image(), self.size, self.options.jpeg_quality))
        return self._encoded[1]

    def pause(self) -> None:
        self._paused_at = _now()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._t0 += _now() - self._paused_at  # continue where we stopped
            self._paused_at = None

    def close(self) -> None:
        container, self._container = self._container, None
        self._frames = None
        if container is not None:
            container.close()
