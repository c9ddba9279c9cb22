"""Detection messages per second the integration handles inside Home Assistant.

Run by bench/run.py (not by the test suite: the file name does not start with test_):

    BOBBY_BENCH_OUT=out.json python -m pytest -p no:cacheprovider bench/ha/bench_ha_detections.py

Home Assistant 2025.4 (pytest-homeassistant-custom-component's `hass`, asyncio debug
mode off as in a real HA) with its real MQTT client connected to a real Mosquitto; the
bobby_camera hub set up on it; detection messages published by a separate process at a
fixed rate over several cameras. Measured per rate:
- messages handled by the hub (calls of its detection channel handler) and the rate they were handled at;
- event-loop lag: how late a 10 ms `asyncio.sleep` wakes up, sampled all the time;
- delivery delay: publish time (`detection_time`) → handled in HA.
Every message goes the whole way: MQTT client, topic dispatch, protocol parse, person
state, dispatcher signals, and state writes of the camera's entities.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.bobby_camera.const import DEFAULT_OPTIONS, DOMAIN
from tests.integration.common import setup_real_mqtt
from tests.support.mosquitto import Mosquitto

HERE = Path(__file__).parent
CAMERAS = int(os.environ.get("BOBBY_BENCH_HA_CAMERAS", "4"))
RATES = [float(r) for r in os.environ.get("BOBBY_BENCH_HA_RATES", "200,400,800,1600").split(",")]
SECONDS = float(os.environ.get("BOBBY_BENCH_HA_SECONDS", "20"))
LAG_INTERVAL = 0.010


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 2)


async def _publish(broker: Mosquitto, rate: float, seconds: float, cameras: int) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "publisher.py"),
        broker.host,
        str(broker.port),
        str(rate),
        str(seconds),
        str(cameras),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"publisher failed: {err.decode()}")
    return dict(json.loads(out))


async def test_detection_rate(
    hass: HomeAssistant, mock_hass_config: None, socket_enabled: None, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        await _measure(hass, broker)
    finally:
        broker.stop()


async def _measure(hass: HomeAssistant, broker: Mosquitto) -> None:
    mqtt_entry = await setup_real_mqtt(hass, broker)
    entry = MockConfigEntry(
        domain=DOMAIN, title="Bobby Camera", data={}, options=dict(DEFAULT_OPTIONS), unique_id=DOMAIN
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub = entry.runtime_data

    handled: list[tuple[float, float]] = []  # (time handled, delay ms)
    original = hub.channels["detection"]

    def counting(agent: Any, detection: dict[str, Any]) -> None:
        original.handler(agent, detection)
        now = time.time()
        handled.append((now, (now - detection["detection_time"]) * 1000))

    # The hub looks its channels up per message: the same subscription, a counting handler.
    hub.channels["detection"] = dataclasses.replace(original, handler=counting)

    lags: list[tuple[float, float]] = []  # (time, lag ms)
    running = True

    async def lag_monitor() -> None:
        loop = asyncio.get_running_loop()
        while running:
            before = loop.time()
            await asyncio.sleep(LAG_INTERVAL)
            lags.append((time.time(), (loop.time() - before - LAG_INTERVAL) * 1000))

    monitor = hass.async_create_background_task(lag_monitor(), "bench lag monitor")

    # Warm-up: every camera appears (device, entities) before anything is timed.
    await _publish(broker, 20, 1.0, CAMERAS)
    deadline = time.monotonic() + 20
    while len([a for a in hub.agents.values() if a.kind == "camera"]) < CAMERAS:
        assert time.monotonic() < deadline, "cameras did not appear in the hub"
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    entities = len(hass.states.async_all())

    results = []
    for rate in RATES:
        handled.clear()
        started = time.time()
        sent = await _publish(broker, rate, SECONDS, CAMERAS)
        await asyncio.sleep(1.0)  # the tail
        window = [(t, d) for t, d in handled]
        in_lag = [lag for t, lag in lags if started <= t]
        lags.clear()
        duration = window[-1][0] - window[0][0] if len(window) > 1 else 0.0
        delays = [d for _t, d in window]
        results.append(
            {
                "rate_offered": rate,
                "sent": sent["sent"],
                "rate_sent": round(sent["sent"] / sent["seconds"], 1),
                "handled": len(window),
                "rate_handled": round((len(window) - 1) / duration, 1) if duration else None,
                "lost": sent["sent"] - len(window),
                "loop_lag_ms": {"p50": _pct(in_lag, 50), "p99": _pct(in_lag, 99), "max": _pct(in_lag, 100)},
                "delay_ms": {"p50": _pct(delays, 50), "p95": _pct(delays, 95), "p99": _pct(delays, 99)},
            }
        )
        await asyncio.sleep(0.5)
    running = False
    await monitor
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()

    from homeassistant.const import __version__ as ha_version

    out = {
        "home_assistant": ha_version,
        "python": sys.version.split()[0],
        "cameras": CAMERAS,
        "seconds": SECONDS,
        "entities": entities,
        "loop_debug": asyncio.get_running_loop().get_debug(),
        "rates": results,
    }
    print(json.dumps(out, indent=1))
    if target := os.environ.get("BOBBY_BENCH_OUT"):
        Path(target).write_text(json.dumps(out, indent=1))  # noqa: ASYNC240 - once, at the end
