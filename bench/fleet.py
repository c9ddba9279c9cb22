# ruff: noqa: E501 - the report is easier to read as one f-string per row
"""The `fleet` phase: home scale in Home Assistant, and detection → first playable chunk.

- Home scale (bench/ha/bench_ha_fleet.py): 100 camera agents at 1 fps and 4 detectors,
  simulated at the protocol level, through one Mosquitto into a real Home Assistant.
  Targets (../shared/design.md): event-loop lag p99 < 20 ms, every entity right < 30 s
  after start, no chunk of 10 simultaneous events lost.
- First clip (tests/e2e/test_recording.py, real processes): a real camera agent, detector
  and `hass`; the time from the first detection of an event to its first chunk playable
  in Home Assistant. Target ≤ 12 s.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import REPO

CACHE = Path(os.environ.get("BOBBY_CACHE", "~/.cache/bobby-camera")).expanduser()
HA_PYTHON = CACHE / "venv-py313-ha2025" / "bin" / "python"
FIRST_CLIP = re.compile(r"first detection → first chunk playable in HA: ([0-9.]+) s")
FIRST_CLIP_TEST = "tests/e2e/test_recording.py::test_person_scenes_leave_clips_that_a_browser_plays"


def _pytest(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    python = os.environ.get("BOBBY_BENCH_HA_PYTHON", str(HA_PYTHON))
    return subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def run(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "fleet.json"
        proc = _pytest(
            ["bench/ha/bench_ha_fleet.py"],
            {"BOBBY_BENCH_OUT": str(target), "BOBBY_BENCH_FLEET_SECONDS": "15" if quick else "60"},
        )
        if proc.returncode or not target.exists():
            out["home_scale"] = {"error": (proc.stdout[-2000:] + proc.stderr[-2000:]).strip()}
        else:
            out["home_scale"] = json.loads(target.read_text())
    proc = _pytest([FIRST_CLIP_TEST, "-p", "no:homeassistant"], {})
    found = FIRST_CLIP.search(proc.stdout)
    out["first_clip_s"] = float(found.group(1)) if found else None
    if found is None:
        out["first_clip_error"] = (proc.stdout[-2000:] + proc.stderr[-2000:]).strip()
    return out


def _slope(samples: list[float]) -> float | None:
    """MB per minute over the second half of the samples (10 s apart): growth, not warm-up."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return None
    return round((half[-1] - half[0]) / ((len(half) - 1) * 10 / 60), 1)


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("MET" if ok else "MISSED")


def table(r: dict[str, Any]) -> list[str]:
    lines = []
    h = r["home_scale"]
    if "error" in h:
        lines.append(f"HOME SCALE: failed\n{h['error']}")
    else:
        lag, rec = h["loop_lag_ms"], h["recording"]
        right = h["entities_right_s"]
        lines += [
            f"HOME SCALE: {h['cameras']} cameras at 1 fps + {h['detectors']} detectors (simulated at the "
            f"protocol level) into Home Assistant; {h['entities_checked']} entities checked",
            f"  every entity right after start: {right if right is not None else 'not within 120'} s "
            f"(target < 30 s: {_verdict(right is not None and right < 30)})",
            f"  event-loop lag p50/p99/max: {lag['p50']}/{lag['p99']}/{lag['max']} ms "
            f"(target p99 < 20 ms: {_verdict(lag['p99'] is not None and lag['p99'] < 20)})",
            f"  HA CPU {h['ha_cpu_percent']} % of a core; RSS growth over {h['window_s']} s: {h['rss_growth_mb']} MB, "
            f"{h['rss_growth_after_recording_mb']} MB of it after the clips were stored; "
            f"second half {_slope(h['rss_mb_every_10s'])} MB/min",
            f"  {rec['events']} events recorded at once: {rec['chunks_stored']}/{rec['chunks']} chunks stored, "
            f"{rec['chunks_resent']} resent, all in {rec['all_stored_s']} s "
            f"(target no chunk lost: {_verdict(rec['chunks_lost'] == 0)})",
        ]
    first = r["first_clip_s"]
    lines.append(
        f"FIRST CLIP: first detection → first chunk playable in HA: {first if first is not None else 'failed'} s "
        f"(target ≤ 12 s: {_verdict(None if first is None else first <= 12)})"
    )
    if first is None:
        lines.append(r.get("first_clip_error", ""))
    return lines
