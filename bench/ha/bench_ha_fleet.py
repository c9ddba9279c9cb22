"""A home-scale fleet into one Home Assistant: 100 camera agents at 1 fps and 4 detectors.

Run by bench/run.py (`--phases fleet`; not by the test suite):

    BOBBY_BENCH_OUT=out.json python -m pytest -p no:cacheprovider bench/ha/bench_ha_fleet.py

Real: Mosquitto, Home Assistant 2025.4 (pytest-homeassistant-custom-component's `hass`, no
asyncio debug) with its real MQTT client, the bobby_camera integration. Simulated at the
protocol level by fleet_publisher.py (a separate process): the agents' messages. The
agents' retained reports are on the broker before Home Assistant's MQTT and the
integration start, as in a home where they run already. Measured:
- time from the start of the set-up (MQTT, then Bobby Camera) until every entity is right:
  each agent's connectivity on, the hub's detection demand and capacity at their figures;
- then for SECONDS of steady traffic: event-loop lag (a 10 ms sleep's lateness, sampled
  all the time), the process's CPU (cores), and its RSS first → last.
Not measured: recording of simultaneous events (no chunks are sent).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.bobby_camera.const import CONF_MAX_AGENTS, DEFAULT_OPTIONS, DOMAIN
from tests.integration.common import setup_real_mqtt
from tests.support.mosquitto import Mosquitto

HERE = Path(__file__).parent
CAMERAS = int(os.environ.get("BOBBY_BENCH_FLEET_CAMERAS", "100"))
DETECTORS = int(os.environ.get("BOBBY_BENCH_FLEET_DETECTORS", "4"))
FPS = float(os.environ.get("BOBBY_BENCH_FLEET_FPS", "1"))
SECONDS = float(os.environ.get("BOBBY_BENCH_FLEET_SECONDS", "60"))
RIGHT_WITHIN = 120.0  # give up waiting for the entities after this (the target is 30 s)
LAG_INTERVAL = 0.010


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2)


async def test_fleet(
    hass: HomeAssistant, mock_hass_config: None, socket_enabled: None, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        await _measure(hass, broker)
    finally:
        broker.stop()


def _expected_capacity() -> float:
    from fleet_publisher import detector_capacity  # type: ignore[import-not-found]

    return round(sum(detector_capacity(d) for d in range(DETECTORS)), 1)


async def _measure(hass: HomeAssistant, broker: Mosquitto) -> None:
    sys.path.insert(0, str(HERE))
    publisher = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "fleet_publisher.py"),
        broker.host,
        str(broker.port),
        str(CAMERAS),
        str(DETECTORS),
        str(FPS),
        str(SECONDS + RIGHT_WITHIN),
        stdout=asyncio.subprocess.PIPE,
    )
    assert publisher.stdout is not None
    json.loads(await publisher.stdout.readline())  # the retained reports are on the broker

    lags: list[tuple[float, float]] = []  # (time.monotonic(), lag ms)
    running = True

    async def lag_monitor() -> None:
        loop = asyncio.get_running_loop()
        while running:
            before = loop.time()
            await asyncio.sleep(LAG_INTERVAL)
            lags.append((time.monotonic(), (loop.time() - before - LAG_INTERVAL) * 1000))

    monitor = hass.async_create_background_task(lag_monitor(), "bench lag monitor")
    process = psutil.Process()
    rss_start = process.memory_info().rss

    started = time.monotonic()
    mqtt_entry = await setup_real_mqtt(hass, broker)
    # 104 agents: over the default cap of 64 (a flood guard), which a home this size raises.
    options = {**DEFAULT_OPTIONS, CONF_MAX_AGENTS: CAMERAS + DETECTORS + 16}
    entry = MockConfigEntry(domain=DOMAIN, title="Bobby Camera", data={}, options=options, unique_id=DOMAIN)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    registry = er.async_get(hass)
    keys = [f"camera_cam{i:03d}" for i in range(CAMERAS)] + [f"detector_det{d}" for d in range(DETECTORS)]
    demand, capacity = f"{CAMERAS * FPS:.1f}", f"{_expected_capacity():.1f}"

    def wrong() -> list[str]:
        out = []
        for key in keys:
            entity_id = registry.async_get_entity_id("binary_sensor", DOMAIN, f"{key}_connectivity")
            state = hass.states.get(entity_id) if entity_id else None
            if state is None or state.state != "on":
                out.append(key)
        for unique_id, expected in (("hub_detection_demand", demand), ("hub_detection_capacity", capacity)):
            entity_id = registry.async_get_entity_id("sensor", DOMAIN, unique_id)
            state = hass.states.get(entity_id) if entity_id else None
            if state is None or state.state != expected:
                out.append(f"{unique_id}={state.state if state else None}")
        return out

    right_after = None
    while time.monotonic() - started < RIGHT_WITHIN:
        if not (left := wrong()):
            right_after = time.monotonic() - started
            break
        await asyncio.sleep(0.1)
    else:
        print(f"still wrong after {RIGHT_WITHIN:.0f} s: {left[:10]} ({len(left)})")

    steady_from = time.monotonic()
    cpu_start = process.cpu_times()
    rss_steady = process.memory_info().rss
    rss_samples = []
    while time.monotonic() - steady_from < SECONDS:
        await asyncio.sleep(1.0)
        rss_samples.append(process.memory_info().rss)
    cpu_end = process.cpu_times()
    wall = time.monotonic() - steady_from
    running = False
    await monitor
    in_steady = [lag for at, lag in lags if at >= steady_from]
    publisher.kill()
    await publisher.wait()
    entities = len(hass.states.async_all())
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()

    from homeassistant.const import __version__ as ha_version

    mb = 1024 * 1024
    out: dict[str, Any] = {
        "home_assistant": ha_version,
        "python": sys.version.split()[0],
        "cameras": CAMERAS,
        "detectors": DETECTORS,
        "fps": FPS,
        "seconds": SECONDS,
        "entities": entities,
        "right_after_s": None if right_after is None else round(right_after, 2),
        "loop_lag_ms": {"p50": _pct(in_steady, 50), "p99": _pct(in_steady, 99), "max": _pct(in_steady, 100)},
        "cpu_cores": round((cpu_end.user - cpu_start.user + cpu_end.system - cpu_start.system) / wall, 3),
        "rss_mb": {
            "before_setup": round(rss_start / mb, 1),
            "steady_first": round(rss_steady / mb, 1),
            # Half-way: the steps of the first seconds (entities, person states) are behind.
            "steady_mid": round(rss_samples[len(rss_samples) // 2] / mb, 1) if rss_samples else None,
            "steady_last": round(rss_samples[-1] / mb, 1) if rss_samples else None,
        },
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(out, indent=1))
    if target := os.environ.get("BOBBY_BENCH_OUT"):
        Path(target).write_text(json.dumps(out, indent=1))  # noqa: ASYNC240 - once, at the end
