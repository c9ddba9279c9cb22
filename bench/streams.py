"""Camera agent CPU per RTSP stream: what an IP camera costs the machine the agent runs on.

For each input size (720p, 1080p at 15 fps, the usual main-stream rate of IP cameras) a
GStreamer RTSP server (tests/support/rtsp_server.py) pays out an H.264 clip of the
sample scenes (x264 veryfast: CABAC and the deblocking filter, like a camera's encoder;
no B-frames), and a real `bobby-edge camera --source rtsp://…` process sends 2 fps of
1280×720 JPEG to a Mosquitto broker. Its CPU (user + system, % of one core) and RSS are
read with psutil over a window after a warm-up. Variants:

- `GOP 2 s`: a keyframe every 2 s, as cameras ship: every frame is decoded (P-frames
  need their predecessors), only 2 fps are scaled and JPEG-encoded;
- `GOP 0.5 s`: keyframes at least as often as frames are sent: the agent decodes
  keyframes only (set the camera's I-frame interval to fps/2 to get this);
- `decode only`: GOP 2 s, every frame decoded by the agent's reader, nothing scaled,
  encoded or sent: what decoding alone costs (the rest of `GOP 2 s` is the 2 fps of
  scaling, JPEG and MQTT);
- `record only`: the stream read for recording and nothing else (demux, packets handed
  to a sink, no decode) — the cost of `--record-stream` on the main stream, without the
  recorder's own chunk writing (the recorder is another branch: see its bench).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from tests.support.mosquitto import Mosquitto
from tests.support.rtsp_server import RtspCamera, write_h264_clip

REPO = Path(__file__).resolve().parents[1]

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
INPUT_FPS = 15
SEND_FPS = 2.0
SCENES = ("astronaut", "chelsea", "coffee", "rocket")

# A process that reads a stream without the agent around it: `record` hands the packets to a
# sink that drops them (the recorder would put them in its ring) and decodes nothing;
# `decode` decodes every frame as the agent's reader does, but nothing is scaled or encoded.
READER_ONLY = """
import sys, time
sys.path[:0] = [{repo!r}, {agents!r}]
from bobby_edge.camera.sources import SourceOptions, VideoOptions, create
from bobby_edge.camera.sources.rtsp import RtspOptions

class Sink:
    def set_format(self, stream_format): pass
    def write(self, packet): pass

if {mode!r} == "record":
    # Both readers on one URL, then the detection one closed: the recording reader alone.
    source = create({url!r}, SourceOptions(1280, 720, 2.0, 80, own=(RtspOptions(record_stream={url!r}),)))
    source.record_to(Sink(), VideoOptions(0, 0, 0))
    source.open()
    source._stream.stop()
else:
    source = create({url!r}, SourceOptions(1280, 720, 2.0, 80))
    source.open()
time.sleep(3600)
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_of(process: psutil.Process, seconds: float) -> tuple[float, float]:
    """(% of one core, RSS MiB) of `process` over `seconds`."""
    before = process.cpu_times()
    start = time.monotonic()
    time.sleep(seconds)
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return round(100 * used / (time.monotonic() - start), 1), round(process.memory_info().rss / 2**20, 1)


def measure(
    camera: RtspCamera,
    broker: Mosquitto,
    workdir: Path,
    *,
    reader: str | None,
    warm_s: float,
    window_s: float,
) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "edge_agents")}
    log_path = workdir / "agent.log"
    if reader:
        script = READER_ONLY.format(
            repo=str(REPO), agents=str(REPO / "edge_agents"), url=camera.url, mode=reader
        )
        args = [sys.executable, "-c", script]
    else:
        args = [
            sys.executable,
            "-m",
            "bobby_edge",
            "camera",
            "--broker",
            broker.url,
            "--id",
            "bench-cam",
            "--source",
            camera.url,
            "--fps",
            str(SEND_FPS),
            "--width",
            "1280",
            "--height",
            "720",
            "--stats-interval",
            "1",
        ]
    with log_path.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        ps = psutil.Process(process.pid)
        time.sleep(warm_s)
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited: {log_path.read_text()[-2000:]}")
        server = psutil.Process(camera.process.pid) if camera.process else None
        if server:
            server.cpu_percent(None)
        cpu, rss = cpu_of(ps, window_s)
        return {
            "agent_cpu_pct": cpu,
            "agent_rss_mib": rss,
            "rtsp_server_cpu_pct": round(server.cpu_percent(None), 1) if server else None,
            "keyframes_only": "decoding keyframes only" in log_path.read_text(),
        }
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def run(quick: bool = False) -> dict[str, Any]:
    warm_s, window_s = (4.0, 5.0) if quick else (8.0, 20.0)
    results: dict[str, Any] = {
        "input_fps": INPUT_FPS,
        "sent_fps": SEND_FPS,
        "sent_size": [1280, 720],
        "window_s": window_s,
    }
    with tempfile.TemporaryDirectory(prefix="bobby-bench-streams-") as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "broker").start()
        try:
            for label, size in SIZES.items():
                for variant, gop, reader in (
                    ("GOP 2 s", 2 * INPUT_FPS, None),
                    ("GOP 0.5 s", INPUT_FPS // 2, None),
                    ("decode only", 2 * INPUT_FPS, "decode"),
                    ("record only", 2 * INPUT_FPS, "record"),
                ):
                    log(f"camera agent on an RTSP stream: {label}, {variant}")
                    work = root / f"{label}-{gop}-{reader}"
                    clip, sizes = write_h264_clip(
                        work / "clip",
                        scenes=SCENES,
                        size=size,
                        fps=INPUT_FPS,
                        seconds_per_scene=2.0,
                        keyframe_interval=gop,
                        preset="veryfast",  # Main-profile-like: CABAC, deblocking, as cameras send
                    )
                    camera = RtspCamera(work / "rtsp", clip, sizes, fps=INPUT_FPS).start()
                    try:
                        figures = measure(
                            camera, broker, work, reader=reader, warm_s=warm_s, window_s=window_s
                        )
                    finally:
                        camera.stop()
                    results.setdefault(label, {})[variant] = figures
                    log(f"  {figures}")
        finally:
            broker.stop()
    return results


def table(r: dict[str, Any]) -> str:
    lines = [
        f"Camera agent per RTSP stream (H.264 at {r['input_fps']} fps in; "
        f"{r['sent_fps']:g} fps of {r['sent_size'][0]}x{r['sent_size'][1]} JPEG out):",
        f"  {'input':<8}{'variant':<14}{'agent CPU % of a core':>24}{'RSS MiB':>10}{'server CPU %':>14}",
    ]
    for label in SIZES:
        for variant, f in r.get(label, {}).items():
            lines.append(
                f"  {label:<8}{variant:<14}{f['agent_cpu_pct']:>24}{f['agent_rss_mib']:>10}"
                f"{f['rtsp_server_cpu_pct'] if f['rtsp_server_cpu_pct'] is not None else '-':>14}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    print(table(result))
    out = REPO / "bench" / "results" / ("quick-streams.json" if "--quick" in sys.argv else "streams.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
