"""Recording phase of the bench: what recording costs a camera agent, and the encoders.

    python bench/recording.py [--seconds S]    # alone; bench/run calls `measure` too

- Encoders PyAV's wheels carry, ms per frame at 640×480 and 1280×720 (H.264 choices
  for the JPEG sources; mpeg4 for scale, though browsers cannot play it).
- The camera agent as a process on the `video:` source at 640×480 and 1280×720: CPU (%
  of one core) and RSS while idle with the pre-roll on, and while recording an event
  (a paho client plays the core and acknowledges chunks); bytes per second of clip.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
# This checkout first: a worktree's code wins over the one the venv's editable installs point at.
sys.path[:0] = [str(REPO), str(REPO / "edge_agents")]

from tests.agents.recording_support import Core, publish_detection, write_moving_video  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.probe import Probe  # noqa: E402

SIZES = ((640, 480), (1280, 720))
CAPTURE_FPS = 5.0


def encoder_ms(codec: str, size: tuple[int, int], frames: int = 60, **options: str) -> float:
    import av
    import numpy as np

    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = *size, "yuv420p"
    ctx.time_base = Fraction(1, 1000)
    ctx.thread_count = 1
    ctx.bit_rate = 4_000_000
    ctx.options = options
    ctx.open()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size[1], size[0], 3), np.uint8)
    images = [np.roll(base, 8 * i, axis=1) for i in range(8)]
    started = time.process_time()
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(images[i % 8], format="rgb24").reformat(format="yuv420p")
        frame.pts = i * 200
        ctx.encode(frame)
    return (time.process_time() - started) / frames * 1000


def encoders() -> dict[str, dict[str, float]]:
    x264 = {"tune": "zerolatency"}
    choices = {
        "libx264 ultrafast": ("libx264", {**x264, "preset": "ultrafast"}),
        "libx264 superfast": ("libx264", {**x264, "preset": "superfast"}),
        "libx264 veryfast": ("libx264", {**x264, "preset": "veryfast"}),
        "mpeg4 (not browser-playable)": ("mpeg4", {}),
    }
    return {
        name: {f"{w}x{h}": round(encoder_ms(codec, (w, h), **opts), 1) for w, h in SIZES}
        for name, (codec, opts) in choices.items()
    }


def sample(proc: psutil.Process, seconds: float) -> tuple[float, float]:
    """CPU (% of one core, children included) and peak RSS (MB) over `seconds`."""
    start = proc.cpu_times()
    peak = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, proc.memory_info().rss / 1e6)
        time.sleep(0.2)
    end = proc.cpu_times()
    used = (end.user - start.user) + (end.system - start.system)
    return round(100 * used / seconds, 1), round(peak, 1)


def agent_phase(size: tuple[int, int], seconds: float, workdir: Path) -> dict[str, Any]:
    video = workdir / f"scene-{size[0]}.mp4"
    write_moving_video(video, seconds=8, fps=25, size=size)
    return {**baseline(size, seconds, workdir, video), **recording(size, seconds, workdir, video)}


def camera_argv(broker: Mosquitto, size: tuple[int, int], video: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "bobby_edge", "camera", "--broker", broker.url, "--id", "cam1",
        "--source", f"video:{video}", "--fps", str(CAPTURE_FPS), "--width", str(size[0]),
        "--height", str(size[1]), *extra,
    ]  # fmt: skip


def baseline(size: tuple[int, int], seconds: float, workdir: Path, video: Path) -> dict[str, Any]:
    """The same agent with --no-record: what recording adds is the difference."""
    broker = Mosquitto(workdir / f"broker-base-{size[0]}").start()
    env = {**os.environ, "PYTHONPATH": str(REPO / "edge_agents")}
    camera = subprocess.Popen(
        camera_argv(broker, size, video, "--no-record"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        time.sleep(5)
        cpu, rss = sample(psutil.Process(camera.pid), seconds)
        return {"no_record_cpu_percent": cpu, "no_record_rss_mb": rss}
    finally:
        camera.terminate()
        camera.wait(20)
        broker.stop()


def recording(size: tuple[int, int], seconds: float, workdir: Path, video: Path) -> dict[str, Any]:
    broker = Mosquitto(workdir / f"broker-{size[0]}").start()
    core = Core(broker.port)
    probe = Probe(broker.port)
    log = (workdir / f"camera-{size[0]}.log").open("ab")
    env = {**os.environ, "PYTHONPATH": str(REPO / "edge_agents")}
    args = camera_argv(
        broker, size, video, "--spool-dir", str(workdir / f"spool-{size[0]}"), "--post-roll", str(seconds * 3)
    )
    camera = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        proc = psutil.Process(camera.pid)
        time.sleep(12)  # the pre-roll ring fills (10 s)
        idle_cpu, idle_rss = sample(proc, seconds)
        publish_detection(probe, time.time())
        recording_cpu, recording_rss = sample(proc, seconds)
        chunks = [c for c in core.unique().values() if c.media]
        video_seconds = sum(c.header["duration"] for c in chunks)
        media = sum(len(c.media) for c in chunks)
        return {
            "idle_cpu_percent": idle_cpu,
            "idle_rss_mb": idle_rss,
            "recording_cpu_percent": recording_cpu,
            "recording_rss_mb": recording_rss,
            "clip_bytes_per_second": round(media / video_seconds) if video_seconds else None,
            "chunks": len(chunks),
        }
    finally:
        camera.terminate()
        camera.wait(20)
        probe.close()
        core.close()
        broker.stop()


def measure(seconds: float = 20.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return {
            "capture_fps": CAPTURE_FPS,
            "encoder_ms_per_frame": encoders(),
            "agent": {f"{w}x{h}": agent_phase((w, h), seconds, Path(tmp)) for w, h in SIZES},
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    print(json.dumps(measure(parser.parse_args().seconds), indent=1))
