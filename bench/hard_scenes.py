# ruff: noqa: E501 - the table is easier to read as one f-string per row
"""Hard scenes (issue 24): what night normalisation and finer tiles cost, and how far they reach.

In-process, one 1-thread `Pipeline` (no MQTT: these are the pipeline's own costs), in one run:

cost()    CPU ms per frame of `Pipeline.analyse()`, in alternating rounds so that load from
          other sessions hits every mode alike: a day frame (no normalisation), a night frame
          (contrast-stretched), the stretch alone, and tiles without and with the finer level;
          each as a ratio to the whole-frame day frame of the same round.
reach()   the smallest person found on each path: a person pasted 40-160 px tall at four
          places in the rocket scene, analysed as the whole frame, with first-level tiles,
          with first-level + finer tiles, and with the camera's motion regions.
night()   night versions of the shipped scenes (grey, brightness 30 %…2 %, sensor noise σ 2,
          4, 8, slight blur): people found without and with the stretch, and boxes on the
          empty scenes.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from typing import Any


def log(message: str) -> None:
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


HEIGHTS = (40, 48, 56, 64, 80, 96, 120, 160)
PLACES = ((300, 200), (100, 60), (450, 100), (500, 300))
NIGHT_LEVELS = (
    (0.3, 8),
    (0.1, 8),
    (0.1, 4),
    (0.06, 4),
    (0.04, 2),
    (0.04, 4),
    (0.03, 2),
    (0.03, 4),
    (0.02, 2),
)


@contextlib.contextmanager
def _no_stretch() -> Iterator[None]:
    """Frames reach the model unchanged, as before issue 24."""
    from bobby_edge.detector import normalise

    original = normalise.stretch_lut
    normalise.stretch_lut = lambda rgb: None  # type: ignore[assignment]
    try:
        yield
    finally:
        normalise.stretch_lut = original  # type: ignore[assignment]


def _cpu_ms(fn: Any, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) * 1000 / n


def cost(quick: bool) -> dict[str, Any]:
    from bobby_edge.detector import decode, normalise
    from bobby_edge.detector.pipeline import Pipeline
    from tests.agents.test_detector_fixtures import at_night, day, scene

    pipeline = Pipeline.open(threads=1)
    day_jpeg = scene("astronaut")
    night_jpeg = at_night(day("astronaut"), 0.04, 4)
    whole = decode.decode(night_jpeg, pipeline.model.input_size, 10**7)
    rounds = 2 if quick else 5
    n = 5 if quick else 20
    modes: dict[str, Any] = {
        "day frame, whole": lambda: pipeline.analyse(day_jpeg),
        "night frame, whole (stretched)": lambda: pipeline.analyse(night_jpeg),
        "stretch alone (table + apply, 257²)": lambda: normalise.apply(normalise.stretch_lut(whole), whole),  # type: ignore[arg-type]
        "day frame, first-level tiles (7 runs)": lambda: pipeline.analyse(
            day_jpeg, tiles=True, fine_tiles=False
        ),
        "day frame, + finer tiles (31 runs)": lambda: pipeline.analyse(day_jpeg, tiles=True),
    }
    samples: dict[str, list[float]] = {k: [] for k in modes}
    ratios: dict[str, list[float]] = {k: [] for k in modes}
    for _ in range(rounds):
        for name, fn in modes.items():
            runs = max(1, n // 8) if "tiles" in name else n
            samples[name].append(_cpu_ms(fn, runs))
        base = samples["day frame, whole"][-1]
        for name in modes:
            ratios[name].append(samples[name][-1] / base)
    return {
        name: {
            "cpu_ms": round(statistics.median(samples[name]), 2),
            "ratio": round(statistics.median(ratios[name]), 3),
        }
        for name in modes
    }


def reach(quick: bool) -> dict[str, Any]:
    from bobby_edge.camera.motion import MotionDetector
    from bobby_edge.detector.pipeline import Pipeline
    from tests.agents.test_detector_fixtures import near, pasted_tall, scene, to_jpeg

    pipeline = Pipeline.open(threads=1)
    empty = scene("rocket")
    places = PLACES[:2] if quick else PLACES
    paths = ("whole frame", "first-level tiles", "+ finer tiles", "motion regions")
    found: dict[str, dict[int, int]] = {p: {} for p in paths}
    for height in HEIGHTS:
        for x, y in places:
            pixels, [box] = pasted_tall("rocket", ((x, y),), height)
            jpeg = to_jpeg(pixels)
            motion = MotionDetector()
            for _ in range(3):
                motion.regions(empty)
            regions = motion.regions(jpeg).regions
            coarse = pipeline.analyse(jpeg, tiles=True, fine_tiles=False)
            results = {
                "whole frame": pipeline.analyse(jpeg),
                "first-level tiles": coarse,
                "+ finer tiles": pipeline.analyse(jpeg, tiles=True),
                "motion regions": pipeline.analyse(jpeg, regions=regions),
            }
            for path, analysis in results.items():
                hit = any(near(p.box, box, 0.05) for p in analysis.select(0.5))
                found[path][height] = found[path].get(height, 0) + int(hit)
    smallest = {
        path: min((h for h, k in counts.items() if k == len(places)), default=None)
        for path, counts in found.items()
    }
    return {"places": len(places), "heights": list(HEIGHTS), "found": found, "smallest_everywhere": smallest}


def night(quick: bool) -> dict[str, Any]:
    from bobby_edge.detector.pipeline import Pipeline
    from tests.agents.test_detector_fixtures import at_night, day

    pipeline = Pipeline.open(threads=1)
    levels = NIGHT_LEVELS[::2] if quick else NIGHT_LEVELS
    rows = []
    for brightness, noise in levels:
        row: dict[str, Any] = {"brightness": brightness, "noise": noise}
        frames = {
            name: at_night(day(name), brightness, noise)
            for name in ("astronaut", "camera", "chelsea", "coffee", "rocket")
        }
        for label, ctx in (("unchanged", _no_stretch), ("stretched", contextlib.nullcontext)):
            with ctx():
                counts = {
                    name: len(pipeline.analyse(jpeg, tiles=True).select(0.5)) for name, jpeg in frames.items()
                }
            row[label] = {
                "people_found": sum(counts[n] > 0 for n in ("astronaut", "camera")),
                "boxes_on_empty": sum(counts[n] for n in ("chelsea", "coffee", "rocket")),
            }
        rows.append(row)
        log(f"night {brightness:.0%} σ {noise}: {row}")
    return {"levels": rows}


def run(quick: bool) -> dict[str, Any]:
    log("hard scenes: cost per frame of night normalisation and finer tiles")
    out: dict[str, Any] = {"cost": cost(quick)}
    log("hard scenes: smallest person found per path")
    out["reach"] = reach(quick)
    log("hard scenes: night levels")
    out["night"] = night(quick)
    return out


def table(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    add = lines.append
    add(
        "HARD SCENES (issue 24), in-process Pipeline.analyse(), 1 LiteRT thread, 640×480; CPU ms per frame (median of rounds) and ratio to a day frame's whole-frame analysis in the same round"
    )
    for name, x in r["cost"].items():
        add(f"  {name:<40} {x['cpu_ms']:8.2f} ms   ×{x['ratio']:.3f}")
    reach_ = r["reach"]
    add(
        f"  smallest person found at all {reach_['places']} places in the rocket scene (px tall in 640×480), and found/places per height {reach_['heights']}:"
    )
    for path, counts in reach_["found"].items():
        add(
            f"    {path:<20} {reach_['smallest_everywhere'][path]!s:>5}   {[counts.get(str(h), counts.get(h, 0)) for h in reach_['heights']]}"
        )
    add(
        "  night versions (grey, slight blur): people found of 2 (astronaut, camera) / boxes on the 3 empty scenes, tiles on"
    )
    add("    brightness  noise σ   unchanged   stretched")
    for row in r["night"]["levels"]:
        u, s = row["unchanged"], row["stretched"]
        add(
            f"    {row['brightness']:>9.0%}  {row['noise']:>7}   {u['people_found']}/2, {u['boxes_on_empty']:<4}   {s['people_found']}/2, {s['boxes_on_empty']}"
        )
    return lines
