"""`picamera`: a Raspberry Pi camera through picamera2 (libcamera), JPEG by picamera2 itself.

With recording on, the Pi's hardware H.264 encoder (picamera2's `H264Encoder`) encodes
the `main` stream at the recording size and rate (e.g. 1280×720 at 15 fps), with a
keyframe every 2 × fps frames and the parameter sets repeated on each, and hands each
packet to the recorder through `_RecorderOutput`, a picamera2 `Output`. Detection frames
then come from the `lores` stream at the detection size (its YUV420 converted to JPEG),
at the detection rate: the two are independent. The recorder keeps the pre-roll itself
(one ring for every source), so picamera2's `CircularOutput2` is not needed here.

picamera2 comes from Raspberry Pi OS's apt (`python3-picamera2`), not from PyPI, so it
is imported only when this source opens; a venv must be made with
`--system-site-packages` to see it.
"""

from __future__ import annotations

import io
import logging
import time
from typing import Any

from PIL import Image

from ...errors import StartupError
from ..recording.packets import EncodedPacket, PacketSink, StreamFormat
from . import register
from .base import FrameSource, SourceOptions, VideoOptions

_LOGGER = logging.getLogger(__name__)

# The sensor never runs slower than this: long frame durations let auto-exposure pick
# multi-second exposures (blurred people) and make the frame we take staler.
SENSOR_MIN_FPS = 1.0

INSTALL_HINT = (
    "install it with `sudo apt install python3-picamera2` and run the agent from the system "
    "Python or from a venv made with `python3 -m venv --system-site-packages`"
)


@register("picamera")
class PiCameraSource(FrameSource):
    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        self._camera: Any = None
        self._model = "unknown sensor"
        self._running = False
        self._sink: PacketSink | None = None
        self._video: VideoOptions | None = None
        self._encoder: Any = None
        self._output: Any = None
        self._lores = False  # detection frames from the lores stream (recording at another size)

    @property
    def description(self) -> str:
        return f"picamera: {self._model}"

    @property
    def max_fps(self) -> float | None:
        try:
            shortest_us = self._camera.camera_controls["FrameDurationLimits"][0]
            return round(1_000_000 / shortest_us, 2) if shortest_us > 0 else None
        except (AttributeError, KeyError, IndexError, TypeError):
            return None

    def _sensor_fps(self, fps: float) -> float:
        # Recording needs the sensor at the video rate; detection frames are taken from it.
        video_fps = self._video.fps if self._video else 0.0
        return max(fps, video_fps, SENSOR_MIN_FPS)

    def record_to(self, sink: PacketSink, video: VideoOptions) -> bool:
        self._sink, self._video = sink, video
        return True

    def _configuration(self, size: tuple[int, int]) -> Any:
        controls = {"FrameRate": self._sensor_fps(self.fps)}
        if self._video is None:
            return self._camera.create_video_configuration(main={"size": size}, controls=controls)
        video_size = (self._video.width, self._video.height)
        self._lores = video_size != size
        if not self._lores:
            return self._camera.create_video_configuration(main={"size": video_size}, controls=controls)
        return self._camera.create_video_configuration(
            main={"size": video_size}, lores={"size": size, "format": "YUV420"}, controls=controls
        )

    def _start_encoder(self) -> None:
        if self._sink is None or self._video is None:
            return
        from picamera2.encoders import H264Encoder

        video = self._video
        if self._encoder is None:
            self._encoder = H264Encoder(
                bitrate=_bitrate(video.width, video.height),
                repeat=True,  # SPS/PPS before every keyframe: each chunk decodes alone
                iperiod=max(1, round(2 * video.fps)),  # a keyframe every ~2 s
                framerate=video.fps,
            )
            self._output = _recorder_output(
                self._sink, StreamFormat("h264", video.width, video.height, video.fps)
            )
        self._camera.start_encoder(self._encoder, self._output, name="main")

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as err:
            raise StartupError(f"the picamera source needs picamera2 ({err}): {INSTALL_HINT}") from None
        camera_num = int(self.target) if self.target.isdigit() else 0
        try:
            self._camera = Picamera2(camera_num)
        except Exception as err:
            raise StartupError(
                f"no Raspberry Pi camera {camera_num} could be opened ({err}): check the ribbon cable, "
                "that no other program uses the camera, and `rpicam-hello --list-cameras`"
            ) from None
        self._model = str(self._camera.camera_properties.get("Model") or "unknown sensor")
        size = self.size
        try:
            self._camera.configure(self._configuration(size))
            # picamera2's own JPEG encoder reads its quality from here.
            self._camera.options["quality"] = self.options.jpeg_quality
            self._camera.start()
            self._start_encoder()
        except Exception as err:
            self.close()
            raise StartupError(
                f"camera {self._model} refused {size[0]}x{size[1]} at {self.fps} fps ({err}): "
                "try a smaller --width/--height"
            ) from None
        self._running = True
        _LOGGER.info("camera %s streaming %dx%d", self._model, *size)

    def read(self) -> bytes:
        out = io.BytesIO()
        if self._lores:
            yuv420_to_image(self._camera.capture_array("lores"), self.size).save(
                out, format="JPEG", quality=self.options.jpeg_quality
            )
        else:
            self._camera.capture_file(out, format="jpeg")
        return out.getvalue()

    def set_fps(self, fps: float) -> None:
        super().set_fps(fps)
        self._camera.set_controls({"FrameRate": self._sensor_fps(fps)})

    def pause(self) -> None:
        if self._running:
            if self._encoder is not None:
                self._camera.stop_encoder()
            self._camera.stop()  # the sensor stops; the camera stays ours and configured
            self._running = False

    def resume(self) -> None:
        if not self._running:
            self._camera.start()
            self._start_encoder()
            self._running = True

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                if self._running:
                    if self._encoder is not None:
                        camera.stop_encoder()
                    camera.stop()
            finally:
                self._running = False
                camera.close()


def _bitrate(width: int, height: int) -> int:
    """About 0.15 bit per pixel per frame at 15 fps: 1280×720 → 2 Mbit/s (10 s ≈ 2.5 MB)."""
    return max(500_000, min(4_000_000, width * height * 2))


def yuv420_to_image(array: Any, size: tuple[int, int]) -> Image.Image:
    """picamera2's YUV420 array ((h × 3/2) rows of w bytes: Y, then U, then V) → an RGB image."""
    import numpy as np

    width, height = size
    plane = np.asarray(array, dtype=np.uint8)
    y = plane[:height, :width]
    chroma = plane[height:].reshape(-1)
    quarter = (width // 2) * (height // 2)
    u = chroma[:quarter].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
    v = chroma[quarter : 2 * quarter].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
    return Image.merge("YCbCr", [Image.fromarray(c) for c in (y, u, v)]).convert("RGB")


def _recorder_output(sink: PacketSink, stream_format: StreamFormat) -> Any:
    """A picamera2 `Output` that hands each encoded frame to the recorder (the PacketSink)."""
    from picamera2.outputs import Output

    class RecorderOutput(Output):  # type: ignore[misc]  # picamera2 has no type hints
        def __init__(self) -> None:
            super().__init__()
            self._offset: float | None = None  # Unix time − sensor time

        def start(self) -> None:
            super().start()
            sink.set_format(stream_format)

        def outputframe(
            self,
            frame: bytes,
            keyframe: bool = True,
            timestamp: int | None = None,
            packet: Any = None,
            audio: bool = False,
        ) -> None:
            if audio:
                return
            # picamera2 gives the sensor timestamp in µs (boot clock): map it to Unix time.
            sensor = timestamp / 1_000_000 if timestamp is not None else time.monotonic()
            if self._offset is None:
                self._offset = time.time() - sensor
            sink.write(EncodedPacket(bytes(frame), sensor + self._offset, bool(keyframe)))

    return RecorderOutput()
