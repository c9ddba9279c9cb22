"""A client on the broker floods Home Assistant with 1 MB chunks (issue 20, finding 3a).

Not part of the test suite (the name does not start with test_); run alone:

    python -m pytest -p no:cacheprovider -q -s bench/ha/bench_ha_chunk_flood.py

Home Assistant 2025.4 (pytest-homeassistant-custom-component's `hass`) with its real MQTT
client on a real Mosquitto and the bobby_camera hub; the camera `porch` announced and its
real clips stored first. Then FLOOD chunks of 1 MB of MPEG-TS packets are published as
fast as the broker takes them: half for made-up events of a made-up camera (`ghost`), half
for made-up events of the known camera `porch` (past its ceiling). Measured: this
process's RSS (before, peak, after), the slowest `hass.states.async_all()` serialised as
/api/states does, the worst event-loop lag, and how many of porch's real clips are left.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import psutil
from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import json_bytes
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bobby_edge import protocol
from custom_components.bobby_camera.const import DEFAULT_OPTIONS, DOMAIN
from tests.integration.common import payload, setup_real_mqtt
from tests.support.chunks import make_event
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

FLOOD = int(os.environ.get("BOBBY_BENCH_FLOOD_CHUNKS", "1000"))
VIDEO = (b"G" + b"\xff" * 187) * 5577  # 1 MB of MPEG-TS packets
REAL_CLIPS = 5


def _flood(probe: Probe, count: int) -> float:
    started = time.monotonic()
    for i in range(count):
        camera = "ghost" if i % 2 else "porch"
        event = f"20991231-000000-{i:06x}"
        header = {
            "camera": camera,
            "event": event,
            "seq": 0,
            "start": 4_102_444_800.0,
            "duration": 10.0,
            "last": False,
            "format": "mpegts",
        }
        probe.publish(f"bobby/camera/{camera}/chunk", protocol.encode_chunk(header, VIDEO))
    return time.monotonic() - started


async def test_chunk_flood(
    hass: HomeAssistant, mock_hass_config: None, socket_enabled: None, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    media = tmp_path / "media"
    media.mkdir()
    hass.config.media_dirs = {"local": str(media)}
    probe = await hass.async_add_executor_job(Probe, broker.port, broker.host)
    try:
        await _measure(hass, broker, probe)
    finally:
        await hass.async_add_executor_job(probe.close)
        broker.stop()


async def _measure(hass: HomeAssistant, broker: Mosquitto, probe: Probe) -> None:
    await setup_real_mqtt(hass, broker)
    entry = MockConfigEntry(
        domain=DOMAIN, title="Bobby Camera", data={}, options=dict(DEFAULT_OPTIONS), unique_id=DOMAIN
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    recordings = entry.runtime_data.recordings
    info = payload("camera_porch", "info", capabilities=["fps", "preview", "record"])
    for channel, data in (("status", "online"), ("info", json.dumps(info))):
        await hass.async_add_executor_job(
            lambda c=channel, d=data: probe.publish(f"bobby/camera/porch/{c}", d, retain=True)
        )
    for n in range(REAL_CLIPS):
        for chunk in make_event("porch", f"20261125-1345{n:02d}-a3f0{n:02x}", chunks=1, seconds=1.0):
            while ("porch", chunk.header["event"]) not in recordings.events:
                await hass.async_add_executor_job(probe.publish, "bobby/camera/porch/chunk", chunk.payload)
                await asyncio.sleep(0.5)
    await hass.async_block_till_done()
    real = {key for key in recordings.events if key[0] == "porch"}

    process = psutil.Process()
    rss_before = process.memory_info().rss
    peak = rss_before
    states_ms: list[float] = []
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    flood = loop.run_in_executor(None, _flood, probe, FLOOD)
    while not flood.done() or recordings.gate.pending_bytes:
        before = loop.time()
        await asyncio.sleep(0.05)
        lags.append((loop.time() - before - 0.05) * 1000)
        started = time.perf_counter()
        json_bytes([s.as_dict() for s in hass.states.async_all()])
        states_ms.append((time.perf_counter() - started) * 1000)
        peak = max(peak, process.memory_info().rss)
    seconds = await flood
    await asyncio.sleep(2)
    await hass.async_block_till_done()
    rss_after = process.memory_info().rss
    gate = recordings.gate
    result: dict[str, Any] = {
        "chunks": FLOOD,
        "publish_seconds": round(seconds, 1),
        "rss_before_mb": round(rss_before / 1048576, 1),
        "rss_peak_growth_mb": round((peak - rss_before) / 1048576, 1),
        "rss_after_growth_mb": round((rss_after - rss_before) / 1048576, 1),
        "states_max_ms": round(max(states_ms), 1),
        "loop_lag_max_ms": round(max(lags), 1),
        "stored_flood_events": len([k for k in recordings.events if k not in real]),
        "chunks_unknown_camera": gate.unknown,
        "chunks_over_limit": gate.over_limit,
        "chunks_deferred": gate.deferred,
        "real_clips_kept": len(real & set(recordings.events)),
        "real_clips": len(real),
    }
    print("BENCH", json.dumps(result))
    await hass.config_entries.async_unload(entry.entry_id)
    assert result["real_clips_kept"] == result["real_clips"]
