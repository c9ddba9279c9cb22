"""The fleet at home scale: 100 camera agents at 1 fps and 4 detectors into one Home Assistant.

Run by bench/run.py (`--phases fleet`; not by the test suite: the name does not start with test_):

    BOBBY_BENCH_OUT=out.json python -m pytest -p no:cacheprovider -q bench/ha/bench_ha_fleet.py

What is real: Mosquitto, Home Assistant 2025.4 (pytest-homeassistant-custom-component's
`hass`, asyncio debug off as in a real HA) with its real MQTT client, the bobby_camera
hub and every entity, and the clips: real H.264 chunks (libx264, muxed by the camera
agent's own muxer), stored, joined and remuxed by the integration. What is simulated:
the agents' processing (bench/ha/fleet.py: one MQTT connection per agent publishing what
the agents publish — frames at 1 fps through the shared subscription, previews, stats,
detections for the cameras that see a person, acks — in another process, so that its
CPU is not Home Assistant's). Two cores cannot run 104 real agents.

Measured: time from the hub's setup, with the fleet's retained state on the broker (as
after an HA restart), until every entity is right; then over a steady window, HA's CPU
(this process), event-loop lag (how late a 10 ms sleep wakes), RSS growth; and 10
events recorded at once (3 chunks each), resent as agents resend unacknowledged chunks,
none lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bench.ha.fleet import DETECTOR_CAPACITY
from custom_components.bobby_camera.const import CONF_MAX_AGENTS, DEFAULT_OPTIONS, DOMAIN
from tests.integration.common import setup_real_mqtt
from tests.support.chunks import make_event
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

HERE = Path(__file__).parent
CAMERAS = int(os.environ.get("BOBBY_BENCH_FLEET_CAMERAS", "100"))
DETECTORS = int(os.environ.get("BOBBY_BENCH_FLEET_DETECTORS", "4"))
PERSON_CAMERAS = 10  # cameras whose frames the detectors find a person in
WINDOW = float(os.environ.get("BOBBY_BENCH_FLEET_SECONDS", "60"))  # the steady window
EVENTS = 10  # recorded at once
CHUNKS = 3
READY_WITHIN = 120.0  # seconds: past this, "every entity right" is reported as not reached
LAG_INTERVAL = 0.010


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))], 2)


def _agent_ids() -> list[tuple[str, str]]:
    return [("detector", f"det{n}") for n in range(1, DETECTORS + 1)] + [
        ("camera", f"cam{n:03d}") for n in range(1, CAMERAS + 1)
    ]


def _expected(hass: HomeAssistant) -> dict[str, str] | None:
    """entity id → its right state, once every entity exists (None before): each agent's
    connectivity, problem, switch and person sensor, and the hub's demand and capacity."""
    registry = er.async_get(hass)
    expected: dict[str, str] = {}
    for what, value in (
        ("detection_demand", CAMERAS * 1.0),
        ("detection_capacity", DETECTORS * DETECTOR_CAPACITY),
    ):
        entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"hub_{what}")
        if entity_id is None:
            return None
        expected[entity_id] = str(round(value, 1))
    for kind, agent_id in _agent_ids():
        key = f"{kind}_{agent_id}"
        wanted = [
            ("binary_sensor", "connectivity", STATE_ON),
            ("binary_sensor", "problem", STATE_OFF),
            ("switch", "enabled", STATE_ON),
        ]
        if kind == "camera":
            person = STATE_ON if int(agent_id[3:]) <= PERSON_CAMERAS else STATE_OFF
            wanted.append(("binary_sensor", "person", person))
        for domain, what, state in wanted:
            entity_id = registry.async_get_entity_id(domain, DOMAIN, f"{key}_{what}")
            if entity_id is None:
                return None
            expected[entity_id] = state
    return expected


def _wrong_states(hass: HomeAssistant, expected: dict[str, str]) -> dict[str, str | None]:
    """entity id → its state, for those not (yet) right."""
    return {
        entity_id: None if s is None else s.state
        for entity_id, state in expected.items()
        if (s := hass.states.get(entity_id)) is None or s.state != state
    }


def _wrong(hass: HomeAssistant, expected: dict[str, str]) -> int:
    return len(_wrong_states(hass, expected))


async def _until_right(hass: HomeAssistant, started: float) -> tuple[float | None, int]:
    """Seconds from `started` until every entity is right (None: not within READY_WITHIN)."""
    wrong = -1
    while time.monotonic() - started < READY_WITHIN:
        expected = _expected(hass)
        if expected is not None:
            wrong = _wrong(hass, expected)
            if wrong == 0:
                return round(time.monotonic() - started, 2), len(expected)
        await asyncio.sleep(0.1)
    return None, wrong


def _record(probe: Probe, recordings: Any) -> dict[str, Any]:
    """EVENTS events at once, CHUNKS chunks each; unstored chunks resent every 5 s, as agents do."""
    events = {
        f"cam{n:03d}": make_event(
            f"cam{n:03d}", f"20261202-0900{n:02d}-f1ee7{n:01x}", chunks=CHUNKS, seconds=2.0
        )
        for n in range(1, EVENTS + 1)
    }
    started = time.monotonic()
    sent = resent = 0
    pending = {(camera, chunk.header["seq"]): chunk for camera, chunks in events.items() for chunk in chunks}
    first = True
    while pending and time.monotonic() - started < 60:
        for (camera, _), chunk in list(pending.items()):
            probe.publish(f"bobby/camera/{camera}/chunk", chunk.payload)
            sent += 1
            resent += 0 if first else 1
        first = False
        deadline = time.monotonic() + 5
        while pending and time.monotonic() < deadline:
            time.sleep(0.1)
            for key in list(pending):
                record = recordings.events.get((key[0], pending[key].header["event"]))
                if record is not None and key[1] in record.chunks:
                    del pending[key]
    stored = sum(
        len(r.chunks)
        for r in recordings.events.values()
        if r.camera in events and r.event.startswith("20261202")
    )
    return {
        "events": EVENTS,
        "chunks": EVENTS * CHUNKS,
        "chunks_stored": stored,
        "chunks_lost": EVENTS * CHUNKS - stored,
        "chunks_resent": resent,
        "all_stored_s": round(time.monotonic() - started, 2) if not pending else None,
    }


async def test_fleet(
    hass: HomeAssistant, mock_hass_config: None, socket_enabled: None, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    media = tmp_path / "media"
    media.mkdir()
    hass.config.media_dirs = {"local": str(media)}
    fleet = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "fleet.py"),
        broker.host,
        str(broker.port),
        str(CAMERAS),
        str(DETECTORS),
        str(PERSON_CAMERAS),
        str(READY_WITHIN + WINDOW + 60),
        stdout=subprocess.PIPE,
    )
    probe = await hass.async_add_executor_job(Probe, broker.port, broker.host)
    try:
        assert fleet.stdout is not None
        assert (await asyncio.wait_for(fleet.stdout.readline(), 120)).strip() == b"ready"
        result = await _measure(hass, broker, probe)
    finally:
        fleet.terminate()
        await fleet.wait()
        await hass.async_add_executor_job(probe.close)
        broker.stop()
    print("BENCH", json.dumps(result))
    if out := os.environ.get("BOBBY_BENCH_OUT"):
        await hass.async_add_executor_job(Path(out).write_text, json.dumps(result))


async def _measure(hass: HomeAssistant, broker: Mosquitto, probe: Probe) -> dict[str, Any]:
    process = psutil.Process()
    started = time.monotonic()
    await setup_real_mqtt(hass, broker)
    options = dict(DEFAULT_OPTIONS) | {CONF_MAX_AGENTS: 2 * (CAMERAS + DETECTORS)}
    entry = MockConfigEntry(domain=DOMAIN, title="Bobby Camera", data={}, options=options, unique_id=DOMAIN)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    right_s, entities = await _until_right(hass, started)

    loop = asyncio.get_running_loop()
    recordings = entry.runtime_data.recordings
    rss_before = process.memory_info().rss
    cpu_before = process.cpu_times()
    window_started = time.monotonic()
    recording = loop.run_in_executor(None, _record, probe, recordings)
    # RSS once the clips are stored (PyAV's libraries load with the first clip): what grows
    # after that is the steady state's.
    rss_recorded: list[int] = []
    recording.add_done_callback(lambda _: rss_recorded.append(process.memory_info().rss))
    lags: list[float] = []
    rss_every_10s: list[float] = []
    while time.monotonic() - window_started < WINDOW:
        if time.monotonic() - window_started >= 10 * len(rss_every_10s):
            rss_every_10s.append(round(process.memory_info().rss / 1048576, 1))
        before = loop.time()
        await asyncio.sleep(LAG_INTERVAL)
        lags.append((loop.time() - before - LAG_INTERVAL) * 1000)
    seconds = time.monotonic() - window_started
    cpu_after = process.cpu_times()
    rss_after = process.memory_info().rss
    recorded = await recording
    wrong_at_end = _wrong_states(hass, _expected(hass) or {})
    await hass.config_entries.async_unload(entry.entry_id)
    cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / seconds
    return {
        "cameras": CAMERAS,
        "detectors": DETECTORS,
        "person_cameras": PERSON_CAMERAS,
        "entities_checked": entities,
        "entities_right_s": right_s,
        "entities_wrong_at_end": len(wrong_at_end),
        "wrong_at_end": dict(list(wrong_at_end.items())[:5]),
        "window_s": round(seconds, 1),
        "ha_cpu_percent": round(100 * cpu, 1),
        "loop_lag_ms": {"p50": _pct(lags, 50), "p99": _pct(lags, 99), "max": round(max(lags), 2)},
        "rss_growth_mb": round((rss_after - rss_before) / 1048576, 1),
        "rss_mb_every_10s": rss_every_10s,
        "rss_growth_after_recording_mb": round((rss_after - rss_recorded[0]) / 1048576, 1)
        if rss_recorded
        else None,
        "recording": recorded,
    }
