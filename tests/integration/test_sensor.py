"""Sensors: frame rates, last score, person count, inference and frame time, detector costs, stream."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.bobby_camera.const import DOMAIN

from .common import announce, detection, device, entity_summary, fire, payload

COST_KEYS = ("frame_ms_p50", "frame_ms_p95", "regions_per_frame", "tiles_per_frame", "workers")
HEADROOM_KEYS = ("load", "capacity_fps")
EXAMPLES = Path(__file__).parents[1] / "protocol_examples" / "valid.json"


@cache
def _examples() -> list[dict[str, Any]]:
    return [e for e in json.loads(EXAMPLES.read_text()) if "payload" in e]


def example(topic: str, key: str) -> Any:
    """A copy of the contract's first valid payload on `topic` that has `key` (docs/protocol.md)."""
    found = next(e["payload"] for e in _examples() if e["topic"] == topic and key in e["payload"])
    return json.loads(json.dumps(found))


def announce_driveway(hass: HomeAssistant, **info: Any) -> None:
    """The contract's RTSP camera: its retained status and info, and `info` changed by `info`."""
    fire(hass, "bobby/camera/driveway/status", "online", retain=True)
    fire(hass, "bobby/camera/driveway/info", {**example("bobby/camera/driveway/info", "source"), **info})


def detector_costs(**changes: Any) -> dict[str, Any]:
    """The contract's stats of a detector with regions and tiles, for detector `pi4`."""
    return {**example("bobby/detector/pi4-a/stats", "frame_ms_p50"), **changes}


@pytest.fixture
def platforms() -> list[str]:
    """Only this platform."""
    return [Platform.SENSOR]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities(
    hass: HomeAssistant, init_integration: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    """Every sensor of a camera agent and a detector agent, after stats and one detection."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    fire(hass, "bobby/camera/porch/detection", detection(score=0.875))
    # The fixture's stats with the contract's new keys: the older sensors keep their values.
    motion = example("bobby/camera/porch/stats", "motion_ms")["motion_ms"]
    fire(hass, "bobby/camera/porch/stats", payload("camera_porch", "stats", motion_ms=motion))
    costs = {k: v for k, v in detector_costs().items() if k in COST_KEYS}
    headroom = {k: v for k, v in example("bobby/detector/pi4-a/stats", "load").items() if k in HEADROOM_KEYS}
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats", **costs, **headroom))
    announce_driveway(hass)
    await hass.async_block_till_done()
    assert entity_summary(hass, init_integration.entry_id, "sensor") == snapshot


async def test_values_follow_stats(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Each stats message updates the sensors; offline makes them unavailable."""
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_4_detector_inference_time").state == "6.1"
    assert hass.states.get("sensor.pi_4_detector_analysed_frame_rate").state == "14.2"
    assert hass.states.get("sensor.pi_4_detector_dropped_frames").state == "50"
    fire(
        hass,
        "bobby/detector/pi4/stats",
        payload("detector_pi4", "stats", frames_dropped=75, inference_ms_p50=None),
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_4_detector_dropped_frames").state == "75"
    assert hass.states.get("sensor.pi_4_detector_inference_time").state == STATE_UNKNOWN
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_4_detector_dropped_frames").state == STATE_UNAVAILABLE


async def test_last_score_of_a_dumb_camera(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A camera without an agent still has its last score, and no fps sensor."""
    fire(hass, "bobby/camera/esp32/detection", detection(camera="esp32", score=0.42))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.esp32_last_score").state == "42.0"
    assert hass.states.get("sensor.esp32_frame_rate") is None


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_person_count(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """The people of the last detection at or above the threshold while the person is on; 0 after."""
    count = "sensor.garden_person_count"
    crowd = example("bobby/camera/garden/detection", "person_count")  # 2 people, 2 boxes
    fire(hass, "bobby/camera/garden/detection", crowd)
    await hass.async_block_till_done()
    state = hass.states.get(count)
    assert state.state == "2"
    assert state.attributes["state_class"] == "measurement"
    # An older detector sends no person_count: its boxes are counted.
    older = {k: v for k, v in crowd.items() if k != "person_count"}
    fire(hass, "bobby/camera/garden/detection", {**older, "boxes": older["boxes"][:1]})
    await hass.async_block_till_done()
    assert hass.states.get(count).state == "1"
    # Under the hub's threshold (0.5) a detection does not count, as for the person sensor.
    fire(hass, "bobby/camera/garden/detection", {**crowd, "score": 0.3, "person_count": 5})
    await hass.async_block_till_done()
    assert hass.states.get(count).state == "1"
    # Detections come only while someone is seen: the count falls when the person clears.
    await _tick(hass, freezer, 29)
    assert hass.states.get(count).state == "1"
    await _tick(hass, freezer, 1.5)
    assert hass.states.get(count).state == "0"
    fire(hass, "bobby/camera/garden/detection", crowd)
    await hass.async_block_till_done()
    assert hass.states.get(count).state == "2"


@pytest.mark.parametrize("options", [{"trigger_after": 5.0}])
async def test_person_count_waits_for_the_person_sensor(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """With trigger_after, nobody is counted before the person sensor turns on."""
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_person_count").state == "0"
    for _ in range(5):
        await _tick(hass, freezer, 1)
        fire(hass, "bobby/camera/porch/detection", detection())
        await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_person_count").state == "1"


@pytest.mark.parametrize(("stored", "expected"), [("3", "3"), ("0", STATE_UNKNOWN)])
async def test_person_count_survives_restart(
    hass: HomeAssistant,
    mqtt_mock: Any,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    *,
    stored: str,
    expected: str,
) -> None:
    """Restored with the person state (seen 10 s before, clear_after 30 s); 0 once it clears.

    A stored 0 says nothing about a sighting the person sensor restores: unknown then.
    """
    mock_config_entry.add_to_hass(hass)
    registry = dr.async_get(hass)
    camera = registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id, identifiers={(DOMAIN, "camera_porch")}, name="Porch"
    )
    for domain, key in (("binary_sensor", "person"), ("sensor", "person_count")):
        er.async_get(hass).async_get_or_create(
            domain,
            DOMAIN,
            f"camera_porch_{key}",
            suggested_object_id=f"porch_{key}",
            config_entry=mock_config_entry,
            device_id=camera.id,
        )
    last_hit = dt_util.utcnow() - timedelta(seconds=10)
    mock_restore_cache_with_extra_data(
        hass,
        [
            (State("binary_sensor.porch_person", "on"), {"last_hit": last_hit.isoformat()}),
            (
                State("sensor.porch_person_count", stored),
                {"native_value": int(stored), "native_unit_of_measurement": None},
            ),
        ],
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_person").state == "on"
    assert hass.states.get("sensor.porch_person_count").state == expected
    await _tick(hass, freezer, 20.5)
    assert hass.states.get("binary_sensor.porch_person").state == "off"
    assert hass.states.get("sensor.porch_person_count").state == "0"


async def test_person_count_follows_a_sighting_restored_after_it(
    hass: HomeAssistant, mqtt_mock: Any, mock_config_entry: MockConfigEntry
) -> None:
    """The count was written first (0: nobody), then the person sensor restored a sighting.

    Platforms set up in either order; this one failed CI on HA 2026, where the sensor
    platform came first and the count stayed 0 beside a person who was "on".
    """
    mock_config_entry.add_to_hass(hass)
    camera = dr.async_get(hass).async_get_or_create(
        config_entry_id=mock_config_entry.entry_id, identifiers={(DOMAIN, "camera_porch")}, name="Porch"
    )
    er.async_get(hass).async_get_or_create(
        "sensor",
        DOMAIN,
        "camera_porch_person_count",
        suggested_object_id="porch_person_count",
        config_entry=mock_config_entry,
        device_id=camera.id,
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_person_count").state == "0"
    hub = mock_config_entry.runtime_data
    hub.person.async_restore(hub.agents["camera_porch"], dt_util.utcnow() - timedelta(seconds=10))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_person_count").state == STATE_UNKNOWN


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_detector_costs(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Time per frame, regions and tiles per frame and workers follow the detector's stats."""
    announce(hass, "detector_pi4")
    fire(hass, "bobby/detector/pi4/stats", detector_costs())
    await hass.async_block_till_done()
    frame_time = hass.states.get("sensor.pi_4_detector_time_per_frame")
    assert frame_time.state == "27.9"
    assert frame_time.attributes["unit_of_measurement"] == "ms"
    assert hass.states.get("sensor.pi_4_detector_regions_per_frame").state == "0.8"
    assert hass.states.get("sensor.pi_4_detector_tiles_per_frame").state == "0.0"
    assert hass.states.get("sensor.pi_4_detector_workers").state == "4"
    # A detector that has analysed nothing yet: no times, no means, its workers.
    idle = next(
        e["payload"]
        for e in _examples()
        if e["topic"] == "bobby/detector/pi4-a/stats" and e["payload"].get("frame_ms_p50", 0) is None
    )
    fire(hass, "bobby/detector/pi4/stats", idle)
    await hass.async_block_till_done()
    for key in ("time_per_frame", "regions_per_frame", "tiles_per_frame"):
        assert hass.states.get(f"sensor.pi_4_detector_{key}").state == STATE_UNKNOWN, key
    assert hass.states.get("sensor.pi_4_detector_workers").state == "1"
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_4_detector_time_per_frame").state == STATE_UNAVAILABLE


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_camera_motion_time(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The camera's median motion time; unknown with motion off (null) or from an older agent."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_motion_time").state == STATE_UNKNOWN
    stats = example("bobby/camera/porch/stats", "motion_ms")
    fire(hass, "bobby/camera/porch/stats", stats)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_motion_time").state == "6.8"
    fire(hass, "bobby/camera/porch/stats", {**stats, "motion_ms": None})
    await hass.async_block_till_done()
    assert hass.states.get("sensor.porch_motion_time").state == STATE_UNKNOWN


async def test_noisy_costs_are_disabled_by_default(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """Regions, tiles and motion time start disabled and diagnostic; the frame time is a main sensor."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    for key in ("detector_pi4_regions_per_frame", "detector_pi4_tiles_per_frame", "camera_porch_motion_time"):
        entry = entity_registry.async_get(entity_registry.async_get_entity_id("sensor", DOMAIN, key))
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION, key
        assert entry.entity_category is er.EntityCategory.DIAGNOSTIC, key
    for key in ("detector_pi4_frame_time", "detector_pi4_workers"):
        entry = entity_registry.async_get(entity_registry.async_get_entity_id("sensor", DOMAIN, key))
        assert entry.disabled_by is None, key


async def test_stream_on_the_device_page(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """An RTSP camera: source type as the model, its stream as hardware and as diagnostic sensors."""
    announce_driveway(hass)
    await hass.async_block_till_done()
    driveway = device(hass, init_integration.entry_id, "camera_driveway")
    assert driveway.model == "Camera agent (RTSP stream)"
    assert driveway.model_id == "rtsp: rtsp://192.168.1.20:554/stream2"
    assert driveway.hw_version == "h264 640×360 15 fps"
    assert hass.states.get("sensor.driveway_stream_resolution").state == "640×360"
    assert hass.states.get("sensor.driveway_stream_codec").state == "h264"
    # The camera was switched to its main stream: the agent announces it again.
    announce_driveway(hass, stream_codec="hevc", stream_resolution=[1920, 1080], stream_fps=12.5)
    await hass.async_block_till_done()
    assert device(hass, init_integration.entry_id, "camera_driveway").hw_version == "hevc 1920×1080 12.5 fps"
    assert hass.states.get("sensor.driveway_stream_resolution").state == "1920×1080"
    assert hass.states.get("sensor.driveway_stream_codec").state == "hevc"


async def test_stream_known_after_the_first_connection(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An RTSP camera announces its stream once it reached it: unknown until then."""
    info = example("bobby/camera/driveway/info", "source")
    first = {k: v for k, v in info.items() if not k.startswith("stream_")}
    fire(hass, "bobby/camera/driveway/status", "online", retain=True)
    fire(hass, "bobby/camera/driveway/info", first, retain=True)
    await hass.async_block_till_done()
    assert device(hass, init_integration.entry_id, "camera_driveway").hw_version is None
    assert hass.states.get("sensor.driveway_stream_codec").state == STATE_UNKNOWN
    fire(hass, "bobby/camera/driveway/info", info)  # live: retain is set only on subscribing
    await hass.async_block_till_done()
    assert device(hass, init_integration.entry_id, "camera_driveway").hw_version == "h264 640×360 15 fps"
    assert hass.states.get("sensor.driveway_stream_codec").state == "h264"


async def test_cameras_without_a_stream(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A Pi camera names its source and has no stream; an older agent names no source."""
    announce(hass, "camera_porch")  # no `source`
    info = example("bobby/camera/porch/info", "model")
    fire(hass, "bobby/camera/garden/status", "online", retain=True)
    fire(hass, "bobby/camera/garden/info", {**info, "id": "garden", "name": "Garden", "source": "picamera"})
    await hass.async_block_till_done()
    porch = device(hass, init_integration.entry_id, "camera_porch")
    assert (porch.model, porch.hw_version) == ("Camera agent", None)
    garden = device(hass, init_integration.entry_id, "camera_garden")
    assert (garden.model, garden.hw_version) == ("Camera agent (Raspberry Pi camera)", None)
    for camera in ("porch", "garden"):
        assert hass.states.get(f"sensor.{camera}_stream_codec") is None
        assert hass.states.get(f"sensor.{camera}_stream_resolution") is None
