"""The real camera agent records into Home Assistant through Mosquitto, and a restart of HA loses nothing.

`bobby-edge camera` (this checkout's, recording on, short chunks) runs as a process; the
integration's record_clip action starts an event; Home Assistant's entry is unloaded in
the middle (as a restart does) so chunks reach no one and stay in the agent's spool, then
set up again: the agent resends them, the core acknowledges them, and the clip holds a
complete sequence. The agent's own stats then show an empty spool.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from PIL import Image, ImageDraw
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.bobby_camera.const import DOMAIN, EVENT_CLIP_READY
from tests.support.chunks import decoded_duration
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

from .recording_helpers import until

REPO = Path(__file__).resolve().parents[2]
FPS = 5.0


@pytest.fixture
def recording_camera(broker: Mosquitto, tmp_path: Path) -> Generator[subprocess.Popen[bytes]]:
    """`bobby-edge camera` cam1 on a folder of pictures, recording with 2 s chunks and 2 s resends."""
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):  # a moving box: something to encode
        picture = Image.new("RGB", (160, 120), (40, 90, 140))
        ImageDraw.Draw(picture).rectangle((10 + 30 * i, 30, 40 + 30 * i, 70), fill=(230, 60, 60))
        picture.save(images / f"{i}.jpg")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "edge_agents"), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "bobby_edge", "camera", "--broker", broker.url, "--id", "cam1"]
    argv += ["--name", "Yard", "--source", f"images:{images}", "--fps", str(FPS), "--width", "160"]
    argv += ["--height", "120", "--stats-interval", "1", "--pre-roll", "1", "--post-roll", "1"]
    argv += ["--chunk-seconds", "2", "--chunk-resend", "2", "--spool-dir", str(tmp_path / "spool")]
    with (tmp_path / "camera.log").open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    yield process
    process.kill()
    process.wait(10)


async def test_real_agent_records_and_a_restart_of_ha_loses_nothing(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    broker: Mosquitto,
    recording_camera: subprocess.Popen[bytes],
    media_dir: Path,
) -> None:
    """record_clip → chunks → HA away mid-event → back → every chunk, in order, in one clip."""
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    await until(lambda: hass.states.get("binary_sensor.yard_recording"), "the camera announces recording", 60)
    device_id = er.async_get(hass).async_get("binary_sensor.yard_recording").device_id
    await until(lambda: hub_entry.runtime_data.agents["camera_cam1"].connected, "the camera reports", 60)
    await hass.services.async_call(
        DOMAIN, "record_clip", {"device_id": device_id, "duration": 8}, blocking=True
    )
    recordings = hub_entry.runtime_data.recordings
    await until(lambda: any(r.chunks for r in recordings.events.values()), "a first chunk is stored")

    # "Restart": the entry unloads; chunks the camera publishes now reach no one.
    probe = await hass.async_add_executor_job(Probe, broker.port)
    try:
        await hass.async_add_executor_job(probe.subscribe, "bobby/camera/cam1/chunk")
        assert await hass.config_entries.async_unload(hub_entry.entry_id)
        since = probe.mark()
        await hass.async_add_executor_job(probe.on_topic, "bobby/camera/cam1/chunk", 30.0, since)
    finally:
        await hass.async_add_executor_job(probe.close)
    assert await hass.config_entries.async_setup(hub_entry.entry_id)
    await hass.async_block_till_done()

    await until(lambda: ready, "the clip is ready", 90)
    recordings = hub_entry.runtime_data.recordings
    record = recordings.events[("cam1", ready[0].data["event"])]
    assert record.missing == []
    assert record.last_seq is not None
    assert sorted(record.chunks) == list(range(len(record.chunks)))
    assert ready[0].data["reason"] == "command"
    assert ready[0].data["cut_short"] is False
    folder = recordings.store.event_dir(record)
    frames, seconds = decoded_duration(str(folder / "clip.mp4"), FPS)
    assert frames > 0
    assert seconds == pytest.approx(sum(c.duration for c in record.chunks.values()), abs=1 / FPS)
    # The camera's spool is empty: every chunk was acknowledged.
    agent = hub_entry.runtime_data.agents["camera_cam1"]
    await until(lambda: agent.stats and agent.stats.get("chunks_unacked") == 0, "the spool empties", 60)
