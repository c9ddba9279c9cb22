"""Pieces the benchmark is made of: frames, a broker, detector processes, a load generator.

Everything here is real: Mosquitto started from tests/support/mosquitto.py, detectors as
`python -m bobby_edge detector` processes, frames published by a paho client the way a
camera agent does (JPEG bytes, MQTT v5 user property `frame_time`), detections received
by a second paho client. Latency is measured on one clock: `time.time()` of this process
when it publishes the frame, and when the detection arrives back.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.mosquitto import Mosquitto

REPO = Path(__file__).resolve().parents[1]


class BenchMosquitto(Mosquitto):
    """tests/support's broker, optionally with `set_tcp_nodelay true` (Nagle off towards clients)."""

    def __init__(self, workdir: Path, nodelay: bool = False) -> None:
        super().__init__(workdir)
        self.nodelay = nodelay

    def _write_config(self) -> Path:
        conf = super()._write_config()
        if self.nodelay:
            conf.write_text(conf.read_text() + "set_tcp_nodelay true\n")
        return conf


BASE = "bobby"
GROUP = "bobby-bench"


# --- frames -------------------------------------------------------------------------


def person_frames(size: tuple[int, int] = (640, 480), quality: int = 80) -> list[bytes]:
    """scikit-image's astronaut and camera (people), scaled to `size`, as JPEG."""
    from PIL import Image
    from skimage import data

    frames = []
    for name in ("astronaut", "camera"):
        image = Image.fromarray(getattr(data, name)()).convert("RGB").resize(size, Image.Resampling.BILINEAR)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        frames.append(out.getvalue())
    return frames


# --- statistics ---------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """Percentile by linear interpolation (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# --- CPU accounting -----------------------------------------------------------------


class CpuMeter:
    """CPU used by our processes and by everything else on the machine, over a phase.

    The build machine is shared (other sessions run tests on it), so every phase reports
    how many cores the rest of the machine took while it ran.
    """

    def __init__(self, processes: dict[str, psutil.Process]) -> None:
        self.processes = processes
        self._start: dict[str, float] = {}
        self._wall = 0.0
        self._busy = 0.0

    @staticmethod
    def _proc_cpu(proc: psutil.Process) -> float:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        return float(t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0))

    def __enter__(self) -> CpuMeter:
        self._start = {name: self._proc_cpu(p) for name, p in self.processes.items()}
        self._wall = time.monotonic()
        self._busy = self._machine_busy()
        return self

    def __exit__(self, *_exc: object) -> None:
        wall = time.monotonic() - self._wall
        self.cores = {
            name: round((self._proc_cpu(p) - self._start[name]) / wall, 3)
            for name, p in self.processes.items()
        }
        busy = (self._machine_busy() - self._busy) / wall
        self.cores["machine"] = round(busy, 3)
        self.cores["others"] = round(
            max(0.0, busy - sum(v for k, v in self.cores.items() if k != "machine")), 3
        )
        steal = psutil.cpu_times()
        self.cores["steal_total_s"] = round(float(getattr(steal, "steal", 0.0)), 1)


# --- detector processes -------------------------------------------------------------


@dataclass
class Detector:
    id: str
    threads: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_detector(
    broker: Mosquitto, detector_id: str, threads: int, workdir: Path, extra: list[str] | None = None
) -> Detector:
    log = workdir / f"{detector_id}.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "edge_agents"), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bobby_edge",
            "detector",
            "--broker",
            broker.url,
            "--id",
            detector_id,
            "--threads",
            str(threads),
            "--workers",
            "1",  # one interpreter, as measured against the bare model; `extra` may say otherwise
            "--group",
            GROUP,
            "--stats-interval",
            "1",
            "--log-level",
            "WARNING",
            "--state-dir",
            str(workdir / "agent-state"),
            *(extra or []),
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=workdir,
    )
    return Detector(detector_id, threads, process, log)


# --- load generator and detection sink ----------------------------------------------


@dataclass
class Sent:
    camera: str
    frame_time: float


@dataclass
class Result:
    """What came back for the frames of one phase."""

    rate_offered: float
    rate_sent: float
    sent: int
    duration: float
    latencies_ms: list[float] = field(default_factory=list)
    overheads_ms: list[float] = field(default_factory=list)
    inference_ms: list[float] = field(default_factory=list)
    # split of the latency: frame published → detector published its result, minus
    # inference (MQTT in, queue, decode, pre/post-processing), and result → bench (MQTT out)
    before_out_ms: list[float] = field(default_factory=list)
    out_ms: list[float] = field(default_factory=list)
    detections: int = 0
    throughput: float = 0.0  # detections per second in the steady window
    by_detector: dict[str, int] = field(default_factory=dict)
    received: int = 0  # frames the detectors say they received (from their stats)
    dropped: int = 0  # frames replaced by a newer one (latest wins), from stats
    invalid: int = 0
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (t, MB) of the first detector
    cpu: dict[str, float] = field(default_factory=dict)

    def record_latency(self, received: float, frame_time: float, detection: dict[str, Any]) -> None:
        """One detection's latency and its split (all times Unix seconds)."""
        latency = (received - frame_time) * 1000
        self.latencies_ms.append(latency)
        self.inference_ms.append(detection["inference_ms"])
        self.overheads_ms.append(latency - detection["inference_ms"])
        self.before_out_ms.append(
            (detection["detection_time"] - frame_time) * 1000 - detection["inference_ms"]
        )
        self.out_ms.append((received - detection["detection_time"]) * 1000)

    def summary(self) -> dict[str, Any]:
        lat, over = self.latencies_ms, self.overheads_ms
        rss = [mb for _t, mb in self.rss_mb]
        return {
            "rate_offered": round(self.rate_offered, 2),
            "rate_sent": round(self.rate_sent, 2),
            "sent": self.sent,
            "duration_s": round(self.duration, 2),
            "detections": self.detections,
            "throughput_fps": round(self.throughput, 2),
            "by_detector": self.by_detector,
            "received": self.received,
            "dropped": self.dropped,
            "lost": max(0, self.sent - self.received),
            "latency_ms": {k: _r(pct(lat, q)) for k, q in (("p50", 50), ("p95", 95), ("p99", 99))},
            "overhead_ms": {k: _r(pct(over, q)) for k, q in (("p50", 50), ("p95", 95), ("p99", 99))},
            "inference_ms_p50": _r(median(self.inference_ms)),
            "in_detector_minus_inference_ms": {
                k: _r(pct(self.before_out_ms, q)) for k, q in (("p50", 50), ("p95", 95), ("p99", 99))
            },
            "detection_delivery_ms": {
                k: _r(pct(self.out_ms, q)) for k, q in (("p50", 50), ("p95", 95), ("p99", 99))
            },
            "rss_mb": {
                "first": _r(rss[0] if rss else None),
                "last": _r(rss[-1] if rss else None),
                "max": _r(max(rss) if rss else None),
                "slope_mb_per_min": _r(_slope(self.rss_mb) * 60 if len(self.rss_mb) > 2 else None),
            },
            "cpu_cores": self.cpu,
        }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (v - my) for t, v in points) / var if var else 0.0


class Bench:
    """One publisher and one subscriber client on the bench's broker."""

    def __init__(self, broker: Mosquitto, quiet_wait: float = 60.0) -> None:
        self.broker = broker
        self.quiet_wait = quiet_wait
        self.quiet_log: list[dict[str, float]] = []
        self.lock = threading.Lock()
        self.detections: list[tuple[float, dict[str, Any]]] = []  # (received time, payload)
        self.stats: dict[str, dict[str, Any]] = {}
        self.stats_log: list[tuple[float, str, dict[str, Any]]] = []  # (received, detector, stats)
        self.status: dict[str, str] = {}
        self.arrived = threading.Condition(self.lock)
        self.pub = self._client("bench-pub")
        self.sub = self._client("bench-sub")
        self.sub.on_message = self._on_message
        self.sub.subscribe(
            [
                (f"{BASE}/camera/+/detection", 1),
                (f"{BASE}/detector/+/stats", 0),
                (f"{BASE}/detector/+/status", 1),
            ]
        )
        time.sleep(0.3)

    def _client(self, client_id: str) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.max_queued_messages_set(0)
        client.connect(self.broker.host, self.broker.port, keepalive=60)
        client.loop_start()
        deadline = time.monotonic() + 10
        while not client.is_connected():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{client_id} could not connect to {self.broker.url}")
            time.sleep(0.01)
        return client

    def close(self) -> None:
        for client in (self.pub, self.sub):
            client.disconnect()
            client.loop_stop()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        parts = msg.topic.split("/")
        if parts[-1] == "detection":
            data = json.loads(msg.payload)
            with self.lock:
                self.detections.append((now, data))
                self.arrived.notify_all()
        elif parts[-1] == "stats":
            with self.lock:
                self.stats[parts[2]] = json.loads(msg.payload)
                self.stats_log.append((now, parts[2], self.stats[parts[2]]))
        elif parts[-1] == "status":
            with self.lock:
                self.status[parts[2]] = msg.payload.decode()

    def wait_quiet(self, limit: float = 0.3) -> float:
        """Wait (up to `quiet_wait` s) until the rest of the machine uses < `limit` cores.

        The machine is shared: another session's test run takes a core, which would be
        charged to whichever phase it overlaps. Returns the load seen last."""
        started = time.monotonic()
        ours = {str(p.pid): p for p in [psutil.Process(), *psutil.Process().children(recursive=True)]}
        if self.broker.process:
            ours["broker"] = psutil.Process(self.broker.process.pid)
        while True:
            with CpuMeter(ours) as meter:
                time.sleep(1.0)
            others = meter.cores["others"]
            if others < limit or time.monotonic() - started >= self.quiet_wait:
                self.quiet_log.append(
                    {"waited_s": round(time.monotonic() - started, 1), "others_cores": others}
                )
                return others

    # --- publishing -----------------------------------------------------------------

    def publish(self, camera: str, jpeg: bytes, regions: str | None = None) -> float:
        """One frame as a camera agent sends it; `regions`: the motion regions property value."""
        frame_time = time.time()
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = [("frame_time", repr(frame_time))]
        if regions is not None:
            props.UserProperty.append(("regions", regions))
        self.pub.publish(f"{BASE}/camera/{camera}/frame", jpeg, qos=0, properties=props)
        return frame_time

    def wait_online(self, detector_ids: list[str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(self.status.get(d) == "online" for d in detector_ids):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"detectors {detector_ids} did not come online; see their logs")

    def counters(self, detector_ids: list[str]) -> dict[str, int]:
        """Sum of the detectors' counters from their latest stats (1 s interval)."""
        with self.lock:
            total = {"frames_received": 0, "frames_dropped": 0, "frames_invalid": 0, "frames_analysed": 0}
            for d in detector_ids:
                for key in total:
                    total[key] += int(self.stats.get(d, {}).get(key, 0))
        return total

    def settle_counters(self, detector_ids: list[str]) -> dict[str, int]:
        """Counters once they stop changing (stats arrive every second)."""
        previous = self.counters(detector_ids)
        for _ in range(5):
            time.sleep(1.1)
            current = self.counters(detector_ids)
            if current == previous:
                return current
            previous = current
        return previous

    def closed_loop(
        self,
        frames: list[bytes],
        count: int,
        gap: float = 0.05,
        camera: str = "solo",
        regions: str | None = None,
    ) -> Result:
        """Unloaded latency: one frame at a time, the next only after its detection came back."""
        result = Result(0.0, 0.0, 0, 0.0)
        started = time.monotonic()
        for i in range(count):
            with self.lock:
                seen = len(self.detections)
            ft = self.publish(camera, frames[i % len(frames)], regions)
            result.sent += 1
            deadline = time.monotonic() + 5.0
            with self.lock:
                while len(self.detections) == seen and time.monotonic() < deadline:
                    self.arrived.wait(0.5)
                got = self.detections[seen:]
            for received, data in got:
                if abs(data["frame_time"] - ft) < 0.0015:
                    result.record_latency(received, ft, data)
                    result.detections += 1
            time.sleep(gap * (0.5 + (i * 7919 % 100) / 100))  # irregular gaps
        result.duration = time.monotonic() - started
        return result

    def open_loop(
        self,
        frames: list[bytes],
        rate: float,
        duration: float,
        *,
        cameras: int = 1,
        detector_ids: list[str] | None = None,
        rss_of: psutil.Process | None = None,
        cpu_of: dict[str, psutil.Process] | None = None,
        warmup: float = 1.0,
        tail: float = 1.0,
        camera_prefix: str = "cam",
        regions: str | None = None,
    ) -> Result:
        """Frames at `rate` per second in total (spread over `cameras`) for `duration` s."""
        detector_ids = detector_ids or []
        names = [f"{camera_prefix}{i + 1}" for i in range(cameras)]
        sent: dict[tuple[str, float], float] = {}
        before = self.settle_counters(detector_ids) if detector_ids else {}
        with self.lock:
            first = len(self.detections)
        rss: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample_rss() -> None:
            t0 = time.monotonic()
            while not stop.is_set() and rss_of is not None:
                try:
                    rss.append((time.monotonic() - t0, rss_of.memory_info().rss / 2**20))
                except psutil.Error:
                    return
                stop.wait(0.5)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        meter = CpuMeter(cpu_of or {})
        interval = 1.0 / rate
        with meter:
            start = time.monotonic()
            next_at = start
            i = 0
            while True:
                now = time.monotonic()
                if now >= start + duration:
                    break
                if now < next_at:
                    time.sleep(next_at - now)
                camera = names[i % cameras]
                ft = self.publish(camera, frames[(i // cameras) % len(frames)], regions)
                sent[(camera, round(ft, 3))] = ft
                i += 1
                next_at += interval
                if time.monotonic() - next_at > 0.25:  # fell behind: no burst to catch up
                    next_at = time.monotonic()
            elapsed = time.monotonic() - start
        time.sleep(tail)
        stop.set()
        sampler.join()
        after = self.settle_counters(detector_ids) if detector_ids else {}
        result = Result(rate, i / elapsed, i, elapsed, rss_mb=rss, cpu=meter.cores)
        with self.lock:
            got = self.detections[first:]
        wall_start = time.time() - (time.monotonic() - start)
        steady_from, steady_to = wall_start + warmup, wall_start + elapsed
        in_window = 0
        for received, data in got:
            ft = sent.get((data["camera"], round(data["frame_time"], 3)))
            if ft is None:
                continue
            result.detections += 1
            result.by_detector[data["detector"]] = result.by_detector.get(data["detector"], 0) + 1
            if steady_from <= received <= steady_to:
                in_window += 1
                result.record_latency(received, ft, data)
        result.throughput = in_window / max(1e-9, steady_to - steady_from)
        if detector_ids:
            result.received = after["frames_received"] - before["frames_received"]
            result.dropped = after["frames_dropped"] - before["frames_dropped"]
            result.invalid = after["frames_invalid"] - before["frames_invalid"]
        return result


def warm_up(bench: Bench, frames: list[bytes], detector_ids: list[str], seconds: float = 3.0) -> None:
    """Frames at a modest rate until every detector has answered (shared group: round robin)."""
    deadline = time.monotonic() + max(seconds, 30.0)
    seen: set[str] = set()
    started = time.monotonic()
    i = 0
    while time.monotonic() < deadline:
        with bench.lock:
            first = len(bench.detections)
        bench.publish("warmup", frames[i % len(frames)])
        i += 1
        time.sleep(0.05)
        with bench.lock:
            seen.update(d["detector"] for _t, d in bench.detections[first:])
        if seen >= set(detector_ids) and time.monotonic() - started >= seconds:
            time.sleep(0.5)
            return
    raise RuntimeError(f"no detections from {set(detector_ids) - seen} during warm-up")


# --- the bare model -------------------------------------------------------------------


class BareModel:
    """The detector's model, loaded as the detector loads it, timed with invoke() alone."""

    def __init__(self, threads: int) -> None:
        import numpy as np

        from bobby_edge.detector.pipeline import Pipeline

        self.pipeline = Pipeline.open(threads=threads)
        self.model = self.pipeline.model
        width, height = self.model.input_size
        self.tensor = self.model.family.preprocess(np.zeros((height, width, 3), np.uint8))
        for _ in range(10):
            self.model.invoke(self.tensor)
        self.cpu_ms_per_invoke = 0.0

    def fps(self, seconds: float) -> float:
        n = 0
        start, cpu = time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            self.model.invoke(self.tensor)
            n += 1
        # CPU per invoke (this process; its other threads idle): holds on a shared machine
        # where wall-clock rates fall with other sessions' load.
        self.cpu_ms_per_invoke = (time.process_time() - cpu) * 1000 / n
        return n / (time.perf_counter() - start)

    @staticmethod
    def together_fps(models: list[BareModel], seconds: float) -> float:
        """Several bare models invoking at once, one thread each: what the cores themselves
        give N interpreters (shared caches and memory), the ceiling for N workers."""
        counts = [0] * len(models)
        start = time.perf_counter()

        def loop(i: int) -> None:
            while time.perf_counter() - start < seconds:
                models[i].model.invoke(models[i].tensor)
                counts[i] += 1

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(models))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(counts) / (time.perf_counter() - start)

    def analyse_fps(self, frames: list[bytes], seconds: float) -> float:
        """Pipeline.analyse() in this process: decode, preprocess, invoke, postprocess; no MQTT."""
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            self.pipeline.analyse(frames[n % len(frames)])
            n += 1
        return n / (time.perf_counter() - start)
