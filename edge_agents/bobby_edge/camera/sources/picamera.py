"""`picamera`: a Raspberry Pi camera through picamera2 (libcamera), JPEG by picamera2 itself.

picamera2 comes from Raspberry Pi OS's apt (`python3-picamera2`), not from PyPI, so it
is imported only when this source opens; a venv must be made with
`--system-site-packages` to see it.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from ...service import StartupError
from . import register
from .base import FrameSource, SourceOptions

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
        return max(fps, SENSOR_MIN_FPS)

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
            config = self._camera.create_video_configuration(
                main={"size": size},
                controls={"FrameRate": self._sensor_fps(self.fps)},
            )
            self._camera.configure(config)
            # picamera2's own JPEG encoder reads its quality from here.
            self._camera.options["quality"] = self.options.jpeg_quality
            self._camera.start()
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
        self._camera.capture_file(out, format="jpeg")
        return out.getvalue()

    def set_fps(self, fps: float) -> None:
        super().set_fps(fps)
        self._camera.set_controls({"FrameRate": self._sensor_fps(fps)})

    def pause(self) -> None:
        if self._running:
            self._camera.stop()  # the sensor stops; the camera stays ours and configured
            self._running = False

    def resume(self) -> None:
        if not self._running:
            self._camera.start()
            self._running = True

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                if self._running:
                    camera.stop()
            finally:
                self._running = False
                camera.close()
