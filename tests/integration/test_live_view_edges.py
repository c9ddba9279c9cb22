"""Live view's edges on a mocked MQTT client: cameras that cannot stream live, no live frame
(the still picture goes on), leases that get no answer, and native RTSP video."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from homeassistant.components.camera import CameraEntityFeature, async_get_image
from homeassistant.components.camera import async_get_stream_source as stream_source_of
from homeassistant.const import ATTR_SUPPORTED_FEATURES, Platform
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera.const import LIVE_LEASE
from custom_components.bobby_camera.live import BOUNDARY

from .common import JPEG, announce, fire, payload, settle
from .recording_helpers import until

ENTITY = "camera.porch_preview"
PART = f"--{BOUNDARY}".encode()
LIVE_INFO = payload("camera_porch", "info", capabilities=["fps", "preview", "expires", "live"])
STREAM_URL = "rtsp://192.168.1.20:554/stream1"


@pytest.fixture
def platforms() -> list[str]:
    """Only the camera platform."""
    return [Platform.CAMERA]


@pytest.fixture
def expected_lingering_timers() -> bool:
    """Moving the clock leaves HA's MQTT subscription cooldown timer behind (ha-testing-notes.md)."""
    return True


def sets(mqtt_mock: MqttMockHAClient) -> list[dict[str, Any]]:
    return [
        json.loads(call.args[1])
        for call in mqtt_mock.async_publish.call_args_list
        if call.args[0] == "bobby/camera/porch/set"
    ]


async def porch(hass: HomeAssistant, info: dict[str, Any] | None = LIVE_INFO) -> None:
    announce(hass, "camera_porch")
    if info is not None:  # not retained: HA passes one retained message per topic
        fire(hass, "bobby/camera/porch/info", info)
    fire(hass, "bobby/camera/porch/preview", JPEG, retain=True)
    await hass.async_block_till_done()


async def next_part(response: Any, buffer: list[bytes], within: float = 10.0) -> bytes:
    """The next whole JPEG of an MJPEG stream (`buffer` keeps what was read past it)."""
    async with asyncio.timeout(within):
        while True:
            data = b"".join(buffer)
            first = data.find(PART)
            second = data.find(PART, first + len(PART)) if first >= 0 else -1
            if second >= 0:
                buffer[:] = [data[second:]]
                return data[first:second].split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")
            buffer.append(await response.content.readany())


async def test_a_camera_without_live_gets_home_assistants_still_stream(
    hass: HomeAssistant, init_integration: MockConfigEntry, mqtt_mock: MqttMockHAClient, hass_client: Any
) -> None:
    """An older agent (no `live` capability): no lease, the stream is the preview as before."""
    await porch(hass, info=None)
    client = await hass_client()
    response = await client.get(f"/api/camera_proxy_stream/{ENTITY}")
    try:
        assert JPEG in await response.content.read(len(JPEG) + 200)
    finally:
        response.close()
    assert not [s for s in sets(mqtt_mock) if "live" in s]
    assert (
        init_integration.runtime_data.live.viewers(init_integration.runtime_data.agents["camera_porch"]) == 0
    )


async def test_the_still_goes_on_until_live_frames_come(
    hass: HomeAssistant, init_integration: MockConfigEntry, mqtt_mock: MqttMockHAClient, hass_client: Any
) -> None:
    """The stream starts with the preview, repeats it while no live frame comes, then shows
    each live frame; live frames from unknown cameras or after the last viewer are dropped."""
    await porch(hass)
    hub = init_integration.runtime_data
    agent = hub.agents["camera_porch"]
    client = await hass_client()
    response = await client.get(f"/api/camera_proxy_stream/{ENTITY}")
    buffer: list[bytes] = []
    try:
        assert await next_part(response, buffer) == JPEG
        (lease,) = [s for s in sets(mqtt_mock) if "live" in s]
        assert (lease["live"], lease["lease"]) == (10.0, LIVE_LEASE)  # the default rate
        assert await next_part(response, buffer) == JPEG  # no live frame: the still again
        preview, agent.preview = agent.preview, None
        await asyncio.sleep(2.5)  # a fallback tick with no picture at all: nothing is written
        agent.preview = preview
        live = JPEG.replace(b"JFIF", b"LIVE")
        fire(hass, "bobby/camera/porch/live", live)
        fire(hass, "bobby/camera/garage/live", live)  # no such camera: ignored, nothing made
        assert await next_part(response, buffer) == live
        assert (await async_get_image(hass, ENTITY)).content == live
        assert hub.live.first_frame_after(agent) is not None
        assert "camera_garage" not in hub.agents
    finally:
        response.close()
    await until(lambda: hub.live.viewers(agent) == 0, "the viewer is counted out", 10)
    assert sets(mqtt_mock)[-1]["live"] == 0
    fire(hass, "bobby/camera/porch/live", live)  # late: nobody watches
    await hass.async_block_till_done()
    assert hub.live.frame(agent) is None
    assert (await async_get_image(hass, ENTITY)).content == JPEG
    hub.live.async_close(agent)  # one close too many changes nothing
    assert hub.live.viewers(agent) == 0


async def test_a_lease_without_answer_is_logged_and_an_offline_camera_gets_none(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await porch(hass)
    hub = init_integration.runtime_data
    agent = hub.agents["camera_porch"]
    caplog.set_level(logging.INFO, "custom_components.bobby_camera")
    hub.live.async_open(agent)
    await settle()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))  # past the command timeout
    await hass.async_block_till_done()
    assert "live view command" in caplog.text
    assert not agent.problems  # a lease is not the owner's setting: no problem raised
    fire(hass, "bobby/camera/porch/status", "offline")  # live: HA passes one retained per topic
    await hass.async_block_till_done()
    before = len(sets(mqtt_mock))
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=25))  # a renewal is due
    await hass.async_block_till_done()
    assert len(sets(mqtt_mock)) == before  # nobody to ask
    hub.live.async_close(agent)
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("options", "url"),
    [
        (
            {"native_video": {"porch": {"username": "viewer", "password": "p@ss word"}}},
            "rtsp://viewer:p%40ss%20word@192.168.1.20:554/stream1",
        ),
        ({"native_video": {"porch": {"username": "", "password": ""}}}, STREAM_URL),
        ({}, None),
    ],
)
async def test_native_video_where_the_owner_allows_it(
    hass: HomeAssistant, init_integration: MockConfigEntry, url: str | None
) -> None:
    """The camera announces its URL without credentials; the owner's login is added in HA only."""
    await porch(hass, info={**LIVE_INFO, "stream_url": STREAM_URL})
    features = hass.states.get(ENTITY).attributes[ATTR_SUPPORTED_FEATURES]
    assert bool(features & CameraEntityFeature.STREAM) is (url is not None)
    assert await stream_source_of(hass, ENTITY) == url
    # The last detection is a picture, never a stream.
    assert not hass.states.get("camera.porch_last_detection").attributes[ATTR_SUPPORTED_FEATURES]


async def test_the_options_allow_one_camera_at_a_time(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await porch(hass, info={**LIVE_INFO, "stream_url": STREAM_URL})
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["step_id"] == "native_video"
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"allow": True})
    assert result["errors"] == {"camera": "choose_camera"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"camera": "porch", "allow": True, "username": "viewer", "password": "secret"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert init_integration.options["native_video"] == {"porch": {"username": "viewer", "password": "secret"}}
    assert init_integration.options["live_fps"] == 10.0
    await porch(hass, info={**LIVE_INFO, "stream_url": STREAM_URL})  # the reloaded hub hears it again
    assert await stream_source_of(hass, ENTITY) == "rtsp://viewer:secret@192.168.1.20:554/stream1"

    # Another visit without a camera changes nothing; one that unticks it takes the login away.
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["description_placeholders"] == {"allowed": "Porch"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"allow": False})
    await hass.async_block_till_done()
    assert init_integration.options["native_video"] == {"porch": {"username": "viewer", "password": "secret"}}
    await porch(hass, info={**LIVE_INFO, "stream_url": STREAM_URL})
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"camera": "porch", "allow": False}
    )
    await hass.async_block_till_done()
    assert init_integration.options["native_video"] == {}


@pytest.mark.parametrize(
    "options", [{"native_video": {"porch": {"username": "viewer", "password": "secret-pw"}}}]
)
async def test_the_camera_login_stays_out_of_diagnostics(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client: Any
) -> None:
    """Diagnostics show the stream's URL (it has no login) and hide the owner's login for it."""
    await porch(hass, info={**LIVE_INFO, "stream_url": STREAM_URL})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert diagnostics["entry"]["options"]["native_video"] == {
        "porch": {"username": "**REDACTED**", "password": "**REDACTED**"}
    }
    assert diagnostics["agents"]["camera_porch"]["info"]["stream_url"] == STREAM_URL
    assert "secret-pw" not in json.dumps(diagnostics)
