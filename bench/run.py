# ruff: noqa: E501 - the table is easier to read as one f-string per row
"""Bobby Camera benchmark: every figure of docs/performance.md, measured in one run.

    bench/run            # full run (load levels of 60 s each; about 9 minutes)
    bench/run --quick    # smoke run (about 2 minutes)

Prints a table, writes bench/results/latest.json and .txt, and the plot
docs/performance-latency.png. See docs/performance.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import codec, hard_scenes, reach, recording, streams
from bench.harness import (
    REPO,
    BareModel,
    Bench,
    Detector,
    Mosquitto,
    Result,
    person_frames,
    start_detector,
    warm_up,
)

RESULTS = REPO / "bench" / "results"
PLOT = REPO / "docs" / "performance-latency.png"
# scripts/setup's venvs; bench/run passes the cache it uses.
CACHE = Path(os.environ.get("BOBBY_CACHE", "~/.cache/bobby-camera")).expanduser()
HA_PYTHON = CACHE / "venv-py313-ha2025" / "bin" / "python"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- profiling ------------------------------------------------------------------------


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        log("py-spy is not installed: no profile")
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_profile(path: Path) -> dict[str, Any]:
    """Collapsed stacks → share of samples (all threads) inside the functions that matter."""
    if not path.exists():
        return {}
    total = 0
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        try:
            count = int(count_s)
        except ValueError:
            continue
        total += count
        frames = stack.split(";")
        names = {
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for f in frames
            if " (" in f
        }
        for name in names:
            inclusive[name] += count
        if frames:
            last = frames[-1]
            leaf[
                last.split(" (")[0]
                + (" (" + last.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")" if " (" in last else "")
            ] += count
        threads[frames[0]] += count
    return {
        "samples": total,
        "inclusive_pct": {k: round(100 * v / total, 1) for k, v in inclusive.most_common(25)},
        "self_pct": {k: round(100 * v / total, 1) for k, v in leaf.most_common(15)},
        "threads_pct": {k: round(100 * v / total, 1) for k, v in threads.most_common(6)},
    }


def mean_cpu(results: list[Result]) -> dict[str, float]:
    keys = results[0].cpu.keys()
    return {k: round(sum(r.cpu.get(k, 0.0) for r in results) / len(results), 3) for k in keys}


def alternate(
    bench: Bench,
    frames: list[bytes],
    bare: BareModel,
    detector_ids: list[str],
    *,
    rounds: int,
    bare_s: float,
    round_s: float,
    cameras: int,
    cpu_of: dict[str, psutil.Process],
    profile: tuple[int, Path] | None = None,
) -> dict[str, Any]:
    """Bare model and detector pipeline in alternating rounds, so that load from elsewhere on
    a shared machine hits both alike; the ratio is the median of the per-round ratios."""
    bares: list[float] = []
    analyses: list[float] = []
    pipes: list[Result] = []
    for i in range(rounds):
        bench.wait_quiet()
        bares.append(bare.fps(bare_s))
        analyses.append(bare.analyse_fps(frames, bare_s))
        offered = 1.5 * bares[-1]  # the pipeline cannot beat the bare model: this saturates it
        spy = py_spy(profile[0], round_s, profile[1]) if profile and i == rounds - 1 else None
        pipes.append(
            bench.open_loop(
                frames,
                offered,
                round_s,
                cameras=cameras,
                detector_ids=detector_ids,
                cpu_of=cpu_of,
                warmup=0.5,
                tail=0.3,
            )
        )
        if spy:
            spy.wait(30)
    ratios = sorted(p.throughput / b for p, b in zip(pipes, bares, strict=True))
    n = len(ratios)
    ratio = ratios[n // 2] if n % 2 else (ratios[n // 2 - 1] + ratios[n // 2]) / 2
    return {
        "bare_fps": round(sum(bares) / n, 2),
        "pipeline_fps": round(sum(p.throughput for p in pipes) / n, 2),
        "rate_sent": round(sum(p.rate_sent for p in pipes) / n, 2),
        "ratio": round(ratio, 3),
        "analyse_fps": round(sum(analyses) / n, 2),
        "analyse_ratio": round(sorted(a / b for a, b in zip(analyses, bares, strict=True))[n // 2], 3),
        "rounds_bare_fps": [round(b, 2) for b in bares],
        "rounds_pipeline_fps": [round(p.throughput, 2) for p in pipes],
        "rounds_ratio": [round(p.throughput / b, 3) for p, b in zip(pipes, bares, strict=True)],
        "dropped": sum(p.dropped for p in pipes),
        "lost": sum(max(0, p.sent - p.received) for p in pipes),
        "cpu_cores": mean_cpu(pipes),
    }


# --- the run --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    versions = {}
    for dist in ("ai-edge-litert", "numpy", "simplejpeg", "Pillow", "paho-mqtt"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            versions[dist] = None
    mosq = subprocess.run(
        ["mosquitto", "-h"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return {
        "cpu": fields.get("Model name", "?").strip(),
        "cores": psutil.cpu_count(),
        "architecture": platform.machine(),
        "hypervisor": fields.get("Hypervisor vendor", "").strip() or None,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mosquitto": mosq[0] if mosq else None,
        "packages": versions,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


@dataclass(frozen=True)
class Settings:
    """How long and how often each phase measures (shorter with --quick)."""

    quick: bool
    threads: int
    cameras: int
    level_s: float  # seconds per offered-load level
    rounds: int  # alternating bare/pipeline rounds
    round_s: float
    bare_s: float
    scale_rounds: int
    closed_n: int  # frames of the unloaded (closed-loop) latency
    quiet_wait: float  # seconds to wait for a quiet machine before each phase
    profile: bool
    phases: frozenset[str]  # core, reach, hard, streams, recording

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = bool(args.quick)
        return cls(
            quick=quick,
            threads=args.threads,
            cameras=args.cameras,
            level_s=args.duration if args.duration else (6.0 if quick else 60.0),
            rounds=2 if quick else 6,
            round_s=3.0 if quick else 6.0,
            bare_s=1.5 if quick else 3.0,
            scale_rounds=1 if quick else 3,
            closed_n=40 if quick else 300,
            quiet_wait=args.quiet_wait if args.quiet_wait is not None else (5.0 if quick else 60.0),
            profile=args.profile,
            phases=frozenset(args.phases.split(",")),
        )

    def record(self) -> dict[str, Any]:
        """The settings as results/*.json has them."""
        return {
            "threads": self.threads,
            "cameras": self.cameras,
            "level_seconds": self.level_s,
            "rounds": self.rounds,
            "round_seconds": self.round_s,
            "bare_seconds": self.bare_s,
            "closed_loop_frames": self.closed_n,
            "phases": sorted(self.phases),
        }


@dataclass
class Rig:
    """What every detector phase uses: the settings, the broker, the load generator, the frames."""

    settings: Settings
    bench: Bench
    frames: list[bytes]
    workdir: Path
    mosquitto: psutil.Process
    load_generator: psutil.Process

    def cpu_of(self, detectors: dict[str, psutil.Process]) -> dict[str, psutil.Process]:
        """The processes whose CPU a phase reports: the detectors, the broker, this process."""
        return {**detectors, "mosquitto": self.mosquitto, "load generator": self.load_generator}

    def start_detector(self, detector_id: str, threads: int, beside: Detector | None = None) -> Detector:
        """A detector process, online and warmed up; `beside` a running one of the same group,
        both warm up together (briefly: that one is warm already)."""
        det = start_detector(self.bench.broker, detector_id, threads, self.workdir)
        self.bench.wait_online([det.id])
        if beside:
            warm_up(self.bench, self.frames, [beside.id, det.id], seconds=1.0)
        else:
            warm_up(self.bench, self.frames, [det.id])
        return det

    def alternate(
        self,
        bare: BareModel,
        det: Detector,
        cpu_name: str,
        profile: tuple[int, Path] | None = None,
    ) -> dict[str, Any]:
        s = self.settings
        return alternate(
            self.bench,
            self.frames,
            bare,
            [det.id],
            rounds=s.rounds,
            bare_s=s.bare_s,
            round_s=s.round_s,
            cameras=s.cameras,
            cpu_of=self.cpu_of({cpu_name: det.ps}),
            profile=profile,
        )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase in order; the results as results/*.json has them."""
    settings = Settings.from_args(args)
    out: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "quick": settings.quick,
        "machine": machine(),
        "settings": settings.record(),
    }
    frames = person_frames()
    out["frame_bytes"] = [len(f) for f in frames]

    if "core" in settings.phases:
        log("JPEG decode/encode")
        out["codec"] = codec.run(settings.quick)
    if "streams" in settings.phases:
        log("camera agent per RTSP stream")
        out["streams"] = streams.run(settings.quick)
    if "hard" in settings.phases:
        out["hard"] = hard_scenes.run(settings.quick)

    workdir = Path(tempfile.mkdtemp(prefix="bobby-bench-"))
    broker = Mosquitto(workdir / "broker").start()
    bench = Bench(broker, quiet_wait=settings.quiet_wait)
    rig = Rig(
        settings,
        bench,
        frames,
        workdir,
        mosquitto=psutil.Process(broker.process.pid),  # type: ignore[union-attr]
        load_generator=psutil.Process(),
    )
    try:
        if "reach" in settings.phases:
            out["reach"] = measure_reach(rig)
        if "core" in settings.phases:
            out |= measure_detector(rig)
            out["scale_out"], out["throughput_1_thread"] = measure_scale_out(rig)
    finally:
        bench.close()
        broker.stop()

    if not args.skip_ha:
        out["ha"] = run_ha(settings.quick)
    if "fleet" in settings.phases and not args.skip_ha:
        out["fleet"] = run_fleet(settings.quick)
    out["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out["quiet_gates"] = bench.quiet_log
    shutil.rmtree(workdir, ignore_errors=True)
    return out


def measure_reach(rig: Rig) -> dict[str, Any]:
    """Motion regions: their cost per frame in the camera, then the detector with regions and tiles."""
    s = rig.settings
    log("camera motion regions: cost per frame")
    return {
        "motion": reach.motion_cost(s.quick),
        "detector": reach.run(
            rig.bench,
            rig.bench.broker,
            rig.workdir,
            rig.frames,
            rounds=s.rounds,
            round_s=s.round_s,
            bare_s=s.bare_s,
            closed_n=s.closed_n,
            mosq_ps=rig.mosquitto,
        ),
    }


def measure_detector(rig: Rig) -> dict[str, Any]:
    """The detector with --threads threads: unloaded latency, throughput against the bare
    model (with a py-spy profile), then latency and memory under offered load."""
    s = rig.settings
    out: dict[str, Any] = {}
    bare = BareModel(s.threads)
    det = rig.start_detector("bench-a", s.threads)

    log(f"unloaded latency ({s.closed_n} frames one at a time)")
    rig.bench.wait_quiet()
    out["unloaded"] = rig.bench.closed_loop(rig.frames, s.closed_n).summary()

    log(f"pipeline throughput against the bare model, {s.threads} thread(s): {s.rounds} alternating rounds")
    profile_path = RESULTS / f"{'quick-' if s.quick else ''}detector-profile.txt"
    profile = (det.process.pid, profile_path) if s.profile else None
    tp = rig.alternate(bare, det, "detector", profile=profile)
    out["throughput"] = {"threads": s.threads, **tp}
    if s.profile:
        out["profile"] = summarise_profile(profile_path)

    out["load"] = measure_load(rig, det, capacity=tp["pipeline_fps"])
    det.stop()
    return out


def measure_load(rig: Rig, det: Detector, capacity: float) -> dict[str, Any]:
    """Offered load at 1×, 2× and 3× the measured capacity: latency, drops, memory."""
    s = rig.settings
    levels = []
    for k in (1, 2, 3):
        log(f"offered load {k}× capacity ({k * capacity:.0f} frames/s) for {s.level_s:.0f} s")
        rig.bench.wait_quiet()
        res = rig.bench.open_loop(
            rig.frames,
            k * capacity,
            s.level_s,
            cameras=s.cameras,
            detector_ids=[det.id],
            rss_of=det.ps,
            cpu_of=rig.cpu_of({"detector": det.ps}),
        )
        levels.append(
            {
                "multiple": k,
                **res.summary(),
                "rss_series": [(round(t, 1), round(m, 2)) for t, m in res.rss_mb],
            }
        )
    return {"capacity_fps": round(capacity, 2), "levels": levels}


def measure_scale_out(rig: Rig) -> tuple[dict[str, Any], dict[str, Any]]:
    """One and then two single-threaded detectors in one shared-subscription group, in
    rounds; returns the scale-out figures and the 1-thread pipeline's throughput."""
    s = rig.settings
    one = BareModel(1)
    d1 = rig.start_detector("bench-s1", 1)
    log(f"1 thread: pipeline against the bare model, {s.rounds} alternating rounds")
    p1 = rig.alternate(one, d1, "detector 1")
    ones: list[Result] = []
    twos: list[Result] = []
    c1 = p1["pipeline_fps"]
    for i in range(s.scale_rounds):
        log(f"scale-out round {i + 1}/{s.scale_rounds}: 1 detector, then 2")
        rig.bench.wait_quiet()
        ones.append(scale_out_round(rig, [d1], 1.5 * c1))
        d2 = rig.start_detector("bench-s2", 1, beside=d1)
        rig.bench.wait_quiet()
        twos.append(scale_out_round(rig, [d1, d2], 2.5 * c1))
        d2.stop()
        with rig.bench.lock:
            rig.bench.status.pop(d2.id, None)
    d1.stop()
    return scale_out_summary(ones, twos, s.scale_rounds), {"threads": 1, **p1}


def scale_out_round(rig: Rig, detectors: list[Detector], rate: float) -> Result:
    """Offered load at `rate` over the detectors of one group (memory: the first's)."""
    return rig.bench.open_loop(
        rig.frames,
        rate,
        rig.settings.round_s,
        cameras=rig.settings.cameras,
        detector_ids=[d.id for d in detectors],
        rss_of=detectors[0].ps,
        cpu_of=rig.cpu_of({f"detector {i}": d.ps for i, d in enumerate(detectors, 1)}),
    )


def scale_out_summary(ones: list[Result], twos: list[Result], rounds: int) -> dict[str, Any]:
    one_fps = sum(r.throughput for r in ones) / len(ones)
    two_fps = sum(r.throughput for r in twos) / len(twos)
    one_cpu, two_cpu = mean_cpu(ones), mean_cpu(twos)
    return {
        "rounds": rounds,
        "one": {
            **ones[-1].summary(),
            "throughput_fps": round(one_fps, 2),
            "cpu_cores": one_cpu,
            "rounds_fps": [round(r.throughput, 2) for r in ones],
        },
        "two": {
            **twos[-1].summary(),
            "throughput_fps": round(two_fps, 2),
            "cpu_cores": two_cpu,
            "rounds_fps": [round(r.throughput, 2) for r in twos],
            "by_detector": dict(sum((Counter(r.by_detector) for r in twos), Counter())),
        },
        "ratio": round(two_fps / one_fps, 3) if one_fps else None,
        # fps per core the detectors actually got: what 2 free cores would give, when others ran
        "fps_per_detector_core": {
            "one": round(one_fps / max(1e-9, one_cpu.get("detector 1", 0)), 2),
            "two": round(
                two_fps / max(1e-9, two_cpu.get("detector 1", 0) + two_cpu.get("detector 2", 0)),
                2,
            ),
        },
        "rounds_ratio": [round(b.throughput / a.throughput, 3) for a, b in zip(ones, twos, strict=True)],
    }


def run_ha(quick: bool) -> dict[str, Any]:
    python = os.environ.get("BOBBY_BENCH_HA_PYTHON", str(HA_PYTHON))
    if not Path(python).exists():
        log(f"{python} not found (scripts/setup ha2025 creates it): integration figures skipped")
        return {"error": f"{python} not found"}
    log("integration: detection messages into Home Assistant")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "ha.json"
        env = {
            **os.environ,
            "BOBBY_BENCH_OUT": str(target),
            "BOBBY_BENCH_HA_SECONDS": os.environ.get("BOBBY_BENCH_HA_SECONDS", "3" if quick else "15"),
        }
        proc = subprocess.run(
            [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", "bench/ha/bench_ha_detections.py"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode or not target.exists():
            log(proc.stdout[-3000:] + proc.stderr[-3000:])
            return {"error": "the Home Assistant bench failed (output above)"}
        return dict(json.loads(target.read_text()))


def run_fleet(quick: bool) -> dict[str, Any]:
    """100 camera agents at 1 fps and 4 detectors (protocol-level) into a real Home Assistant."""
    python = os.environ.get("BOBBY_BENCH_HA_PYTHON", str(HA_PYTHON))
    if not Path(python).exists():
        log(f"{python} not found (scripts/setup ha2025 creates it): fleet figures skipped")
        return {"error": f"{python} not found"}
    log("fleet: 100 cameras and 4 detectors into Home Assistant")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "fleet.json"
        env = {
            **os.environ,
            "BOBBY_BENCH_OUT": str(target),
            "BOBBY_BENCH_FLEET_SECONDS": os.environ.get("BOBBY_BENCH_FLEET_SECONDS", "15" if quick else "60"),
        }
        proc = subprocess.run(
            [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", "bench/ha/bench_ha_fleet.py"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode or not target.exists():
            log(proc.stdout[-3000:] + proc.stderr[-3000:])
            return {"error": "the fleet bench failed (output above)"}
        return dict(json.loads(target.read_text()))


# --- report ---------------------------------------------------------------------------


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "MISSED")


def table(r: dict[str, Any]) -> str:
    """The results as the text report: one block per phase, a blank line between."""
    blocks = [
        table_header(r),
        reach.table(r["reach"], r["machine"]["cores"]) if "reach" in r else [],
        [streams.table(r["streams"])] if "streams" in r else [],
        hard_scenes.table(r["hard"]) if "hard" in r else [],
    ]
    if "throughput" in r:  # the core phases ran
        blocks += [
            table_throughput(r),
            table_latency(r),
            table_load(r),
            table_scale_out(r),
            table_codec(r),
            table_quiet_gates(r),
            table_ha(r),
        ]
    blocks.append(table_fleet(r))
    lines = [line for block in blocks if block for line in [*block, ""]]
    return "\n".join(lines[:-1])


def table_header(r: dict[str, Any]) -> list[str]:
    m = r["machine"]
    return [
        f"Bobby Camera bench — {r['started']}{' (quick)' if r['quick'] else ''}",
        f"machine: {m['cpu']}, {m['cores']} cores ({m['hypervisor'] or 'bare metal'}), {m['memory_gib']} GiB, "
        f"Python {m['python']}, LiteRT {m['packages'].get('ai-edge-litert')}; "
        f"load average at start {m['loadavg_at_start']}, at end {r.get('loadavg_at_end')}",
        f"frames: astronaut + camera, 640×480 JPEG q80 ({'/'.join(str(b // 1024) for b in r['frame_bytes'])} KiB)",
    ]


def table_throughput(r: dict[str, Any]) -> list[str]:
    st = r["settings"]
    both = (r["throughput"], r["throughput_1_thread"])
    lines = [
        f"PIPELINE THROUGHPUT (MQTT in → decode → inference → detection out), against the bare model's invoke(); "
        f"{st['rounds']} alternating rounds of {st['bare_seconds']:.0f} s bare / {st['round_seconds']:.0f} s pipeline "
        "at 1.5× the bare rate",
        "  threads  bare fps  analyse() fps (ratio)  pipeline fps  RATIO  rounds       target ≥ 0.90",
    ]
    for x in both:
        lines.append(
            f"  {x['threads']:7d}  {x['bare_fps']:8.1f}  {x['analyse_fps']:13.1f} ({x['analyse_ratio']:.2f})  "
            f"{x['pipeline_fps']:12.1f}  {x['ratio']:.3f}  {min(x['rounds_ratio']):.2f}–{max(x['rounds_ratio']):.2f}    "
            f"{verdict(x['ratio'] >= 0.9)}"
        )
    lines.append(
        "  (analyse() = Pipeline.analyse() in the bench process: decode + pre/post-processing, no MQTT, no threads)"
    )
    for x in both:
        cpu = x["cpu_cores"]
        lines.append(
            f"  CPU during the {x['threads']}-thread pipeline rounds (cores): "
            + ", ".join(f"{k} {v}" for k, v in cpu.items() if k not in ("machine", "steal_total_s"))
            + f"; machine {cpu.get('machine')} of {r['machine']['cores']}"
        )
    return lines


def table_latency(r: dict[str, Any]) -> list[str]:
    u = r["unloaded"]
    lat, over = u["latency_ms"], u["overhead_ms"]
    d, o = u["in_detector_minus_inference_ms"], u["detection_delivery_ms"]
    return [
        f"LATENCY, frame published → detection received (unloaded: {u['sent']} frames one at a time)",
        "                  p50     p95     p99   ms",
        f"  latency      {fmt(lat['p50']):>7} {fmt(lat['p95']):>7} {fmt(lat['p99']):>7}",
        f"  − inference  {fmt(over['p50']):>7} {fmt(over['p95']):>7} {fmt(over['p99']):>7}"
        f"   target p50 ≤ 10 ms  {verdict(over['p50'] <= 10)}",
        f"    of which: frame in → result out, − inference {fmt(d['p50'])} / {fmt(d['p95'])} / {fmt(d['p99'])};"
        f" result → subscriber {fmt(o['p50'])} / {fmt(o['p95'])} / {fmt(o['p99'])}",
        f"  (inference p50 {fmt(u['inference_ms_p50'])} ms)",
    ]


def table_load(r: dict[str, Any]) -> list[str]:
    load = r["load"]
    base = r["unloaded"]["latency_ms"]["p99"]

    def p99_ratio(level: dict[str, Any]) -> float | None:
        return level["latency_ms"]["p99"] / base if base and level["latency_ms"]["p99"] else None

    lines = [
        f"OFFERED LOAD (capacity {load['capacity_fps']:.1f} fps, {r['settings']['cameras']} camera(s), "
        f"{r['settings']['level_seconds']:.0f} s per level; unloaded p99 {fmt(base)} ms)",
        "  load  offered  analysed  p50 ms  p99 ms  p99/unl  dropped  lost   RSS MB first→last (max)  MB/min  infer p50  others' CPU",
    ]
    for lv in load["levels"]:
        rss = lv["rss_mb"]
        lines.append(
            f"  {lv['multiple']}×   {lv['rate_sent']:7.1f}  {lv['throughput_fps']:8.1f}  {fmt(lv['latency_ms']['p50']):>6}  "
            f"{fmt(lv['latency_ms']['p99']):>6}  {fmt(p99_ratio(lv), 2):>7}  {lv['dropped']:7d}  {lv['lost']:4d}   "
            f"{fmt(rss['first'])}→{fmt(rss['last'])} ({fmt(rss['max'])})  {fmt(rss['slope_mb_per_min'], 2):>8}"
            f"  {fmt(lv['inference_ms_p50']):>7}  {fmt(lv['cpu_cores'].get('others'), 2):>9}"
        )
    last = load["levels"][-1]
    ratio3 = p99_ratio(last)
    lines.append(
        f"  target p99 at 3× ≤ 2× unloaded: {fmt(ratio3, 2)}×  {verdict(ratio3 is not None and ratio3 <= 2)}; "
        f"memory flat (|slope| < 1 MB/min at 3×): "
        f"{verdict(abs(last['rss_mb']['slope_mb_per_min'] or 0) < 1)}"
    )
    return lines


def table_scale_out(r: dict[str, Any]) -> list[str]:
    s = r["scale_out"]
    lines = [
        f"SCALE-OUT (1 LiteRT thread per detector, one shared subscription group; {s['rounds']} round(s) "
        f"of {r['settings']['round_seconds']:.0f} s each, 1 then 2 detectors)"
    ]
    for name in ("one", "two"):
        x = s[name]
        cpu = ", ".join(f"{k} {v}" for k, v in x["cpu_cores"].items() if k != "steal_total_s")
        lines.append(
            f"  {name:>3}: {x['throughput_fps']:.1f} fps analysed of {x['rate_sent']:.0f} offered "
            f"(rounds {x['rounds_fps']}); per detector {x['by_detector']}"
        )
        lines.append(f"       CPU (cores): {cpu}")
    fpc = s["fps_per_detector_core"]
    lines.append(
        f"  fps per core the detectors got: one {fpc['one']}, two {fpc['two']} (ratio {fpc['two'] / fpc['one']:.2f})"
    )
    lines.append(
        f"  ratio two/one: {fmt(s['ratio'], 3)} (rounds {s['rounds_ratio']})   target ≥ 1.7  {verdict(s['ratio'] is not None and s['ratio'] >= 1.7)}"
    )
    return lines


def table_codec(r: dict[str, Any]) -> list[str]:
    c = r["codec"]
    lines = ["JPEG, ms per frame (astronaut, q80)       640×480  1280×720"]
    for step in ("decode", "encode"):
        for name, v in c[step].items():
            lines.append(f"  {step} {name:<38} {v['640x480']:7.2f}  {v['1280x720']:8.2f}")
    return lines


def table_quiet_gates(r: dict[str, Any]) -> list[str]:
    gates = r.get("quiet_gates", [])
    if not gates:
        return []
    return [
        f"Shared machine: {len(gates)} phases waited for other processes to use < 0.3 cores; "
        f"{sum(1 for g in gates if g['others_cores'] >= 0.3)} started anyway after the wait limit; "
        f"total wait {sum(g['waited_s'] for g in gates):.0f} s"
    ]


def table_ha(r: dict[str, Any]) -> list[str]:
    ha = r.get("ha")
    if not ha:
        return []
    if "rates" not in ha:
        return [f"INTEGRATION: {ha.get('error')}"]
    lines = [
        f"INTEGRATION in Home Assistant {ha['home_assistant']} (real MQTT client + Mosquitto, {ha['cameras']} cameras, "
        f"{ha['seconds']:.0f} s per rate, {ha['entities']} entities)",
        "  offered  handled/s  lost  loop lag p50/p99/max ms   delivery p50/p99 ms",
    ]
    for x in ha["rates"]:
        lag, d = x["loop_lag_ms"], x["delay_ms"]
        lines.append(
            f"  {x['rate_sent']:7.0f}  {fmt(x['rate_handled']):>9}  {x['lost']:4d}  "
            f"{fmt(lag['p50'], 2)}/{fmt(lag['p99'], 2)}/{fmt(lag['max'], 2):<14}  {fmt(d['p50'], 2)}/{fmt(d['p99'], 2)}"
        )
    at200 = next((x for x in ha["rates"] if x["rate_offered"] >= 200), None)
    if at200:
        handled = (at200["rate_handled"] or 0) >= 0.98 * at200["rate_offered"]
        ok = handled and (at200["loop_lag_ms"]["max"] or 0) < 50
        lines.append(f"  target 200 msg/s with lag < 50 ms: {verdict(ok)}")
    return lines


def table_fleet(r: dict[str, Any]) -> list[str]:
    fleet = r.get("fleet")
    if not fleet:
        return []
    if "loop_lag_ms" not in fleet:
        return [f"FLEET: {fleet.get('error')}"]
    lag, rss = fleet["loop_lag_ms"], fleet["rss_mb"]
    right = fleet["right_after_s"]
    growth = None  # over the second half of the steady time: a slope, not the first steps
    if rss["steady_last"] is not None and rss.get("steady_mid") is not None:
        growth = (rss["steady_last"] - rss["steady_mid"]) / (fleet["seconds"] / 2 / 60)
    return [
        f"FLEET in Home Assistant {fleet['home_assistant']}: {fleet['cameras']} camera agents at "
        f"{fleet['fps']:g} fps and {fleet['detectors']} detectors (their MQTT messages simulated by one "
        "process; Mosquitto, HA's MQTT client and the integration real), "
        f"{fleet['entities']} entities, {fleet['seconds']:.0f} s steady",
        f"  every entity right {fmt(right, 1)} s after the set-up started   target < 30 s: "
        f"{verdict(None if right is None else right < 30)}",
        f"  event-loop lag p50/p99/max {fmt(lag['p50'], 2)}/{fmt(lag['p99'], 2)}/{fmt(lag['max'], 1)} ms   "
        f"target p99 < 20 ms: {verdict(None if lag['p99'] is None else lag['p99'] < 20)}",
        f"  HA process CPU {fleet['cpu_cores']:.3f} cores; RSS {rss['before_setup']} MB before set-up, "
        f"{rss['steady_first']} → {rss.get('steady_mid')} → {rss['steady_last']} MB while steady "
        f"(second half {fmt(growth, 1)} MB/min)",
        "  not measured here: recording of simultaneous events (no chunks sent)",
    ]


def recording_table(r: dict[str, Any]) -> str:
    """The recording phase's rows (bench/recording.py)."""
    lines = [
        "",
        f"Recording: camera agent on video:, {r['capture_fps']:g} fps captured; CPU % of one core / peak RSS MB",
        "| size | no recording | idle, pre-roll on | recording | clip bytes/s |",
        "|---|---|---|---|---|",
    ]
    for size, a in r["agent"].items():
        lines.append(
            f"| {size} | {a['no_record_cpu_percent']} % / {a['no_record_rss_mb']} | "
            f"{a['idle_cpu_percent']} % / {a['idle_rss_mb']} | "
            f"{a['recording_cpu_percent']} % / {a['recording_rss_mb']} | {a['clip_bytes_per_second']} |"
        )
    lines.append(
        "Encoders, CPU ms per frame: "
        + "; ".join(
            f"{name} " + ", ".join(f"{size} {ms}" for size, ms in sizes.items())
            for name, sizes in r["encoder_ms_per_frame"].items()
        )
    )
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    u = r["unloaded"]
    levels = r["load"]["levels"]
    capacity = r["load"]["capacity_fps"]
    xs = [0.0] + [lv["rate_sent"] / capacity for lv in levels]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    for key, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^-")):
        ys = [u["latency_ms"][key]] + [lv["latency_ms"][key] for lv in levels]
        ax.plot(xs, ys, style, label=f"latency {key}")
    ax.plot(
        xs,
        [u["inference_ms_p50"]] + [lv["inference_ms_p50"] for lv in levels],
        ":",
        color="grey",
        label="inference p50",
    )
    ax.axhline(2 * u["latency_ms"]["p99"], color="red", lw=0.8, ls="--", label="target: 2× unloaded p99")
    ax.set_xlabel(f"offered load (× capacity; capacity = {capacity:.0f} frames/s; 0 = one frame at a time)")
    ax.set_ylabel("frame → detection latency (ms)")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{x:.2f}" for x in xs])
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Detector latency against offered load")
    offset = 0.0
    for lv in levels:
        series = lv["rss_series"]
        if series:
            ax2.plot([offset + t for t, _ in series], [m for _, m in series], label=f"{lv['multiple']}×")
            offset += series[-1][0]
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("detector RSS (MiB)")
    peak = max((m for lv in levels for _t, m in lv["rss_series"]), default=1.0)
    ax2.set_ylim(0, peak * 1.25)  # from zero: a flat line looks flat
    ax2.set_title("Detector memory across the load levels")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    m = r["machine"]
    fig.suptitle(
        f"{m['cpu']}, {m['cores']} cores, {r['settings']['threads']} LiteRT threads — {r['started']}",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="short phases: a smoke run, not figures to quote"
    )
    parser.add_argument(
        "--duration", type=float, help="seconds per offered-load level (default 60; 6 with --quick)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="LiteRT threads of the core phases' one-interpreter detector (default 2)",
    )
    parser.add_argument(
        "--cameras", type=int, default=1, help="cameras the offered load is spread over (default 1)"
    )
    parser.add_argument(
        "--no-profile", dest="profile", action="store_false", help="no py-spy during throughput"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        metavar="S",
        help="before each phase, wait up to S s for other processes to use < 0.3 cores "
        "(default 60; 5 with --quick)",
    )
    parser.add_argument("--replot", metavar="JSON", help="only redraw the plot from a results file")
    parser.add_argument("--skip-ha", action="store_true", help="leave out the Home Assistant figures")
    parser.add_argument(
        "--phases",
        default="core,reach,hard,streams,recording,fleet",
        help="core (pipeline, latency, load, scale-out, codecs, HA), reach (motion regions, "
        "regions and tiles, every core), hard (night normalisation and finer tiles: cost per "
        "frame and reach), streams (camera agent CPU per RTSP stream) and/or "
        "recording (camera agent encoding, pre-roll, chunks), fleet (100 cameras and 4 detectors "
        "into Home Assistant); default all",
    )
    parser.add_argument(
        "--recording-only",
        action="store_true",
        help="only the recording phase, printed (bench/recording.py), no results file",
    )
    parser.add_argument(
        "--plot", default=str(PLOT), help=f"where the plot goes (default {PLOT.relative_to(REPO)})"
    )
    args = parser.parse_args()
    recording_s = 8.0 if args.quick else 20.0
    if args.recording_only:
        measured = recording.measure(recording_s)
        print(json.dumps(measured, indent=1))
        print(recording_table(measured))
        return 0
    if args.replot:
        plot(json.loads(Path(args.replot).read_text()), Path(args.plot))
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = run(args)
    if "recording" in args.phases.split(","):
        log("recording: encoders, camera agent CPU and RSS idle with pre-roll and recording")
        result["recording"] = recording.measure(recording_s)
    text = table(result) + ("\n" + recording_table(result["recording"]) if "recording" in result else "")
    print(text)
    name = ("quick" if args.quick else "latest") + (
        "" if "core" in args.phases.split(",") else "-" + args.phases.replace(",", "-")
    )
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{name}.txt").write_text(text + "\n")
    if "load" in result:
        plot(result, Path(args.plot) if not args.quick else RESULTS / "quick-latency.png")
    log(f"wrote bench/results/{name}.json, {name}.txt and the plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
