"""A real RTSP camera on a free loopback port: GStreamer's RTSP server fed an H.264 clip.

The server runs as a subprocess of Debian's /usr/bin/python3 (python3-gi and
gir1.2-gst-rtsp-server-1.0 from apt; the test venvs cannot import gi). The clip is
encoded here with PyAV (libx264) from scikit-image's sample pictures and paid out by
the server as it is (rtph264pay, no re-encode). A missing install is an error, not a
skip, as for Mosquitto.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from tests.support.mosquitto import free_port

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server_main.py")
INSTALL_HINT = (
    "apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-bad (scripts/setup does)"
)


def scene(name: str, size: tuple[int, int]) -> Image.Image:
    """A scikit-image sample picture (astronaut has a person; chelsea/coffee/rocket do not)."""
    return Image.fromarray(getattr(data, name)()).convert("RGB").resize(size)


def write_h264_clip(
    folder: Path,
    *,
    scenes: Sequence[str] = ("astronaut",),
    size: tuple[int, int] = (320, 240),
    fps: int = 10,
    seconds_per_scene: float = 2.0,
    keyframe_interval: int | None = None,
    preset: str = "ultrafast",
) -> tuple[Path, Path]:
    """An H.264 Annex-B stream of the scenes (a little noise so P-frames are not empty) and
    the byte size of each access unit; keyframes every `keyframe_interval` frames (default fps).
    Tests take x264's ultrafast preset (quick to make); the bench a camera-like one."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = size[0], size[1], "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.framerate = Fraction(fps, 1)
    codec.thread_count = 1  # one slice per frame, as cameras send
    codec.options = {
        "g": str(keyframe_interval or fps),
        "bf": "0",  # IP cameras send no B-frames
        "preset": preset,  # the bench uses "veryfast": CABAC and deblocking, as cameras encode
        "tune": "zerolatency",
        "x264-params": "repeat-headers=1",  # SPS/PPS before every keyframe, as cameras do
    }
    rng = np.random.default_rng(1)
    units: list[bytes] = []
    index = 0
    for name in scenes:
        base = np.asarray(scene(name, size), dtype=np.int16)
        for _ in range(round(seconds_per_scene * fps)):
            noisy = np.clip(base + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(noisy, format="rgb24")
            frame.pts = index
            index += 1
            units += [bytes(p) for p in codec.encode(frame)]
    units += [bytes(p) for p in codec.encode(None)]
    clip, sizes = folder / "clip.h264", folder / "clip.sizes"
    clip.write_bytes(b"".join(units))
    sizes.write_text("\n".join(str(len(u)) for u in units) + "\n")
    return clip, sizes


def rtsp_answers(port: int, path: str, timeout: float = 0.5) -> bool:
    """True when an RTSP OPTIONS request on the port gets an RTSP answer."""
    request = f"OPTIONS rtsp://127.0.0.1:{port}{path} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            return sock.recv(64).startswith(b"RTSP/1.0 ")
    except OSError:
        return False


@dataclass
class RtspCamera:
    """One RTSP server process. `start()` returns once it answers RTSP requests."""

    workdir: Path
    clip: Path
    sizes: Path
    fps: int = 10
    user: str | None = None
    password: str | None = None
    path: str = "/stream"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def url_with(self, user: str, password: str) -> str:
        return f"rtsp://{user}:{password}@127.0.0.1:{self.port}{self.path}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "rtsp-server.log"

    def start(self, timeout: float = 15.0) -> RtspCamera:
        if not Path(SYSTEM_PYTHON).exists():
            raise RuntimeError(f"{SYSTEM_PYTHON} is missing: {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            SYSTEM_PYTHON,
            str(SERVER_SCRIPT),
            f"--port={self.port}",
            f"--path={self.path}",
            f"--clip={self.clip}",
            f"--sizes={self.sizes}",
            f"--fps={self.fps}",
        ]
        if self.user:
            args += [f"--user={self.user}", f"--password={self.password or ''}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the RTSP server exited at start ({INSTALL_HINT}?): {self.log_path.read_text()}"
                )
            if rtsp_answers(self.port, self.path):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the RTSP server did not answer on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # in case a test froze it
            self.process.kill()  # a camera that loses power says goodbye to nobody
            self.process.wait(10)
        self.process = None

    def freeze(self) -> None:
        """Stop sending without closing the connection: a stalled stream."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
