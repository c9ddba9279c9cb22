"""`v4l2:/dev/video0`: a USB webcam (or any V4L2 capture device) through PyAV's v4l2 input.

The webcam is asked for MJPEG at `--width`×`--height`: most USB webcams compress in
hardware, and each MJPEG frame is a JPEG that goes to the detectors as it is (no
decode, no re-encode: the cheapest camera there is). A webcam without MJPEG at that
size gives raw frames, which are scaled and encoded at the agent's rate instead.
The stream is drained in a thread (live.py), so a webcam unplugged and plugged back is
reopened by itself.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from . import register
from .base import SourceOptions, VideoOptions
from .live import StreamSource, StreamUnusable

if TYPE_CHECKING:
    from ..recording.packets import PacketSink

_LOGGER = logging.getLogger(__name__)

# errno values that no retry fixes (the device is missing, taken, forbidden, not a camera).
FATAL = (errno.ENOENT, errno.EBUSY, errno.EACCES, errno.EPERM, errno.ENOTTY, errno.ENODEV, errno.ENXIO)
# ... and those with which a webcam refuses a format or size: ask for something else.
REFUSED = (errno.EINVAL, errno.EIO, errno.ENOSYS)


@register("v4l2")
class V4l2Source(StreamSource):
    # The FFmpeg input format. The tests replay a recorded MJPEG stream (demuxer "mjpeg")
    # through this same class: no virtual V4L2 device exists without v4l2loopback.
    demuxer = "video4linux2"

    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        self.device = target or "/dev/video0"

    @property
    def description(self) -> str:
        return f"v4l2: {self.device}"

    def record_to(self, sink: PacketSink, video: VideoOptions) -> bool:
        return False  # webcams send MJPEG or raw frames: the recorder encodes what `read()` gives

    def check(self) -> None:
        if self.demuxer == "video4linux2" and not Path(self.device).exists():
            raise ConfigError(
                f"source v4l2:{self.device}: {self.explain(FileNotFoundError(errno.ENOENT, ''))}"
            )

    def explain(self, err: BaseException) -> str:
        code, device = getattr(err, "errno", None), self.device
        if code == errno.ENOENT:
            return (
                f"no device {device}: is the webcam plugged in? (`ls /dev/video*`, `v4l2-ctl --list-devices`)"
            )
        if code == errno.EBUSY:
            return (
                f"{device} is busy: another program is using the webcam "
                f"(find it with `fuser -v {device}`, stop it, then start the camera agent again)"
            )
        if code in (errno.EACCES, errno.EPERM):
            return f"no permission to open {device}: add the agent's user to the `video` group"
        if code in (errno.ENOTTY, errno.ENODEV, errno.ENXIO):
            return f"{device} is not a video capture device: pick another (`v4l2-ctl --list-devices`)"
        return str(getattr(err, "strerror", None) or err)

    def open_container(self) -> Any:
        import av

        size = f"{self.options.width}x{self.options.height}"
        attempts = [
            {"input_format": "mjpeg", "video_size": size},  # hardware JPEG: passes straight through
            {"video_size": size},  # raw at the size asked for
            {},  # whatever the webcam does by default
        ]
        refusals = []
        for options in attempts:
            try:
                return av.open(self.device, format=self.demuxer, options=options, timeout=self.timeout)
            except av.FFmpegError as err:
                if err.errno in FATAL:
                    raise StreamUnusable(self.explain(err)) from None
                if err.errno not in REFUSED:
                    raise
                refusals.append(f"{options or 'defaults'}: {err.strerror}")
                _LOGGER.info("%s refused %s (%s)", self.device, options or "its defaults", err.strerror)
        raise StreamUnusable(f"{self.device} offers no usable video format ({'; '.join(refusals)})")
