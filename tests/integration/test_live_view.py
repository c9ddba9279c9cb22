"""Live view in a real Home Assistant: a viewer of the camera entity's MJPEG stream holds a
lease on the real camera agent (through a real Mosquitto), renewed while viewers remain,
ended when the last one leaves or the entry unloads."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from homeassistant.components.camera import async_get_image
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from PIL import Image, ImageDraw
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.bobby_camera.const import LIVE_LEASE, LIVE_RENEW_EVERY
from custom_components.bobby_camera.live import BOUNDARY
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

from .recording_helpers import until

REPO = Path(__file__).resolve().parents[2]
ENTITY = "camera.yard_preview"
PART = f"--{BOUNDARY}".encode()


@pytest.fixture
def options() -> dict[str, Any]:
    """Live at 8 fps: distinct from the agent's cap and its normal rate."""
    return {"live_fps": 8.0}


@pytest.fixture
def live_camera(broker: Mosquitto, tmp_path: Path) -> Generator[subprocess.Popen[bytes]]:
    """`bobby-edge camera` cam1 ("Yard") at 1 fps on a folder of pictures, no recording."""
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        picture = Image.new("RGB", (160, 120), (40, 90, 140))
        ImageDraw.Draw(picture).rectangle((10 + 30 * i, 30, 40 + 30 * i, 70), fill=(230, 60, 60))
        picture.save(images / f"{i}.jpg")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "edge_agents"), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "bobby_edge", "camera", "--broker", broker.url, "--id", "cam1"]
    argv += ["--name", "Yard", "--source", f"images:{images}", "--fps", "1", "--width", "160"]
    argv += ["--height", "120", "--stats-interval", "1", "--preview-interval", "1", "--no-record"]
    argv += ["--state-dir", str(tmp_path / "state")]
    with (tmp_path / "camera.log").open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    yield process
    process.kill()
    process.wait(10)


@pytest.fixture
async def probe(hass: HomeAssistant, broker: Mosquitto) -> AsyncIterator[Probe]:
    client = await hass.async_add_executor_job(Probe, broker.port)
    await hass.async_add_executor_job(client.subscribe, "bobby/camera/cam1/#")
    yield client
    await hass.async_add_executor_job(client.close)


async def watched(hub_entry: MockConfigEntry) -> Any:
    """The agent, once it announced itself, reports and has a preview (the entity is available)."""
    hub = hub_entry.runtime_data
    await until(lambda: hub.agents.get("camera_cam1") and hub.agents["camera_cam1"].preview, "a preview", 60)
    return hub.agents["camera_cam1"]


@asynccontextmanager
async def viewer(client: Any) -> AsyncIterator[ClientResponse]:
    """An open MJPEG stream of the entity, as the more-info dialog's <img> holds it."""
    response = await client.get(f"/api/camera_proxy_stream/{ENTITY}")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
    try:
        yield response
    finally:
        response.close()


async def read_parts(response: ClientResponse, count: int, within: float = 30.0) -> list[bytes]:
    """The next `count` JPEGs of the stream."""
    buffer = b""
    async with asyncio.timeout(within):
        while buffer.count(PART) < count + 1:
            buffer += await response.content.readany()
    parts = buffer.split(PART)[1 : count + 1]
    return [part.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n") for part in parts]


def live_commands(probe: Probe, since: int = 0) -> list[dict[str, Any]]:
    sets = [json.loads(m.payload) for m in probe.messages[since:] if m.topic == "bobby/camera/cam1/set"]
    return [s for s in sets if "live" in s]


async def test_viewers_hold_a_lease_and_the_last_one_ends_it(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    live_camera: subprocess.Popen[bytes],
    probe: Probe,
    hass_client: Any,
) -> None:
    """Two viewers: one lease (asked once, at 8 fps); the still picture is the newest live
    frame; the first viewer leaving keeps it, the last one ends it and the agent says so."""
    agent = await watched(hub_entry)
    live = hub_entry.runtime_data.live
    client = await hass_client()
    async with viewer(client) as first:
        await until(lambda: (agent.state or {}).get("live") == 8.0, "the agent streams live at 8 fps")
        parts = await read_parts(first, 10)
        assert all(p.startswith(b"\xff\xd8") for p in parts)
        async with viewer(client) as second:
            await read_parts(second, 3)
            assert live.viewers(agent) == 2
            assert len(live_commands(probe)) == 1  # the second viewer shares the first one's lease
            # The entity's still picture is a live frame now, not the 1-per-second preview.
            image = await async_get_image(hass, ENTITY)
            assert image.content == live.frame(agent)
        await until(lambda: live.viewers(agent) == 1, "the second viewer is counted out")
        await read_parts(first, 3)  # the first still streams
        assert (agent.state or {}).get("live") == 8.0
    await until(lambda: live.viewers(agent) == 0, "the last viewer is counted out")
    await until(lambda: agent.state is not None and "live" not in agent.state, "the agent is back to normal")
    assert live_commands(probe)[-1]["live"] == 0
    assert live.frame(agent) is None
    image = await async_get_image(hass, ENTITY)
    assert image.content == agent.preview
    after = probe.mark()
    await until(lambda: probe.count("bobby/camera/cam1/frame", after) >= 2, "frames go on")
    assert probe.count("bobby/camera/cam1/live", after) == 0


async def test_the_lease_is_renewed_while_someone_watches(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    live_camera: subprocess.Popen[bytes],
    probe: Probe,
    hass_client: Any,
) -> None:
    agent = await watched(hub_entry)
    client = await hass_client()
    async with viewer(client) as stream:
        await until(lambda: (agent.state or {}).get("live") == 8.0, "the agent streams live")
        since = probe.mark()
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=LIVE_RENEW_EVERY + 1))
        renewal = await until(lambda: live_commands(probe, since), "the lease is renewed")
        assert renewal[0]["live"] == 8.0
        assert renewal[0]["lease"] == LIVE_LEASE
        await until(lambda: probe.count("bobby/camera/cam1/ack", since) >= 1, "the agent acks the renewal")
        await read_parts(stream, 3)
    await until(lambda: agent.state is not None and "live" not in agent.state, "the agent is back to normal")


async def test_unloading_the_entry_ends_the_lease(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    live_camera: subprocess.Popen[bytes],
    probe: Probe,
    hass_client: Any,
) -> None:
    agent = await watched(hub_entry)
    client = await hass_client()
    async with viewer(client) as stream:
        await until(lambda: (agent.state or {}).get("live") == 8.0, "the agent streams live")
        since = probe.mark()
        assert await hass.config_entries.async_unload(hub_entry.entry_id)
        await until(lambda: live_commands(probe, since), "the unload ends the lease")
        assert live_commands(probe, since)[0]["live"] == 0

        def state_without_live() -> bool:
            states = [json.loads(m.payload) for m in probe.messages[since:] if m.topic.endswith("/state")]
            return any("live" not in s for s in states)

        await until(state_without_live, "the agent is back to normal")
        # The stream ended with the entry.
        async with asyncio.timeout(30):
            while await stream.content.readany():
                pass
