"""Camera agent CPU with live view: its normal rate, then a live lease, on a 720p video.

    python -m bench.live_view          # from the repository root, in the agents' venv

A real `bobby-edge camera --source video:…` process (1280×720, 2 fps to the detectors)
plays a 15 fps H.264 clip of the sample scenes through a Mosquitto broker. Its CPU (user
+ system, % of one core, psutil) is read over a window at the normal rate, then while a
`set` with `live: 10` holds a lease (docs/protocol.md, "Live view"), then after `live: 0`;
the rates of the `frame` and `live` topics are counted by a subscriber meanwhile. The
`frame` rate must stay at 2 fps: live view must not add detector load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.mosquitto import Mosquitto  # noqa: E402 - after the path
from tests.support.probe import Probe  # noqa: E402
from tests.support.rtsp_server import scene  # noqa: E402

SIZE = (1280, 720)
CLIP_FPS = 15
FPS = 2.0
LIVE = 10.0
WINDOW = 20.0


def write_clip(path: Path) -> None:
    """20 s of the sample scenes at 720p with a little noise (P-frames are not empty)."""
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(CLIP_FPS, 1))
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"preset": "veryfast"}
        for name in ("astronaut", "chelsea", "coffee", "rocket"):
            base = np.asarray(scene(name, SIZE), dtype=np.int16)
            for _ in range(5 * CLIP_FPS):
                noisy = np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(noisy, format="rgb24")):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bobby-live-bench-"))
    clip = work / "720p.mp4"
    write_clip(clip)
    broker = Mosquitto(work / "broker").start()
    argv = [sys.executable, "-m", "bobby_edge", "camera", "--broker", broker.url, "--id", "cam1"]
    argv += ["--source", f"video:{clip}", "--width", str(SIZE[0]), "--height", str(SIZE[1])]
    argv += ["--fps", str(FPS), "--no-record", "--stats-interval", "5", "--state-dir", str(work / "state")]
    env = {**os.environ, "PYTHONPATH": str(REPO / "edge_agents")}
    with (work / "camera.log").open("w") as log:
        camera = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    probe = Probe(broker.port)
    probe.subscribe("bobby/camera/cam1/#", qos=0)
    process = psutil.Process(camera.pid)

    def window(label: str) -> dict[str, float | str]:
        cpu, started, mark = process.cpu_times(), time.monotonic(), probe.mark()
        time.sleep(WINDOW)
        now, elapsed = process.cpu_times(), time.monotonic() - started
        used = (now.user - cpu.user) + (now.system - cpu.system)
        return {
            "window": label,
            "cpu_percent": round(100 * used / elapsed, 1),
            "frame_fps": round(probe.count("bobby/camera/cam1/frame", mark) / elapsed, 2),
            "live_fps": round(probe.count("bobby/camera/cam1/live", mark) / elapsed, 2),
        }

    def command(**fields: float) -> None:
        probe.publish("bobby/camera/cam1/set", json.dumps({"v": 1, "id": f"bench{len(fields)}", **fields}))
        time.sleep(3)  # the rate settles

    try:
        time.sleep(8)  # started, connected, the clip playing
        results = [window(f"normal {FPS:g} fps")]
        command(live=LIVE, lease=300)
        results.append(window(f"live {LIVE:g} fps"))
        command(live=0)
        results.append(window("after the lease"))
    finally:
        camera.terminate()
        camera.wait(10)
        probe.close()
        broker.stop()
    print(
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {SIZE[0]}×{SIZE[1]} video at {CLIP_FPS} fps"
    )
    for row in results:
        print(
            f"{row['window']:>16}: CPU {row['cpu_percent']:5.1f} % of one core, "
            f"frame {row['frame_fps']:.2f}/s, live {row['live_fps']:.2f}/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
