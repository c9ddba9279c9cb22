"""Watched, Coverage and the coverage-gap event inside Home Assistant (issue 22, part 1).

The detectors' per-camera reports arrive as a detector sends them; time is frozen and
moved by hand. The real processes are in test_coverage_broker.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.bobby_camera.const import EVENT_COVERAGE_GAP

from .common import announce, fire, payload

WATCHED = "binary_sensor.porch_watched"
COVERAGE = "sensor.porch_coverage"
# 2 × 5 s (pi4's stats) + 3 × 0.5 s (porch at 2 fps) + 1 s
BOUND = 12.5


@pytest.fixture(autouse=True)
async def agents(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """The porch camera at 2 fps and the pi4 detector (stats every 5 s), time frozen."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def _report(hass: HomeAssistant, analysed: int = 5, dropped: int = 0, **more: Any) -> None:
    cameras = {"porch": {"analysed": analysed, "dropped": dropped, "last_frame_time": 1795000000.0}}
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats", cameras=cameras, **more))
    await hass.async_block_till_done()


async def _camera_stats(hass: HomeAssistant, **changes: Any) -> None:
    fire(hass, "bobby/camera/porch/stats", payload("camera_porch", "stats", **changes))
    await hass.async_block_till_done()


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_watched_while_a_detector_reports_the_cameras_frames(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    assert _state(hass, WATCHED) == "unknown"  # not judged before the first report or the bound
    await _report(hass)
    assert _state(hass, WATCHED) == "on"
    attributes = hass.states.get(WATCHED).attributes
    assert attributes["bound"] == BOUND
    assert attributes["cause"] is None
    for _ in range(13):  # reported every 5 s: stays on; the percentage refreshes every minute
        await _tick(hass, freezer, 5)
        await _report(hass)
        assert _state(hass, WATCHED) == "on"
    assert _state(hass, COVERAGE) == "100.0"


async def test_a_detector_that_reports_no_cameras_proves_nothing(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """An older detector's stats (no `cameras`) or frames of other cameras: not watched, no detector."""
    gaps = async_capture_events(hass, EVENT_COVERAGE_GAP)
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats"))
    await _tick(hass, freezer, BOUND)
    assert _state(hass, WATCHED) == "off"
    assert hass.states.get(WATCHED).attributes["cause"] == "no_detector"
    await _tick(hass, freezer, 20)
    await _report(hass)
    assert _state(hass, WATCHED) == "on"
    (gap,) = gaps
    assert gap.data["cause"] == "no_detector"
    assert gap.data["seconds"] == BOUND + 20
    assert gap.data["camera"] == "porch"
    assert gap.data["name"] == "Porch"
    assert gap.data["device_id"] is not None


async def test_a_detector_dropping_the_cameras_frames_is_overloaded(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    gaps = async_capture_events(hass, EVENT_COVERAGE_GAP)
    await _report(hass)
    for _ in range(3):  # busy with other cameras: every porch frame replaced before analysis
        await _tick(hass, freezer, 5)
        await _report(hass, analysed=0, dropped=10)
    assert _state(hass, WATCHED) == "off"
    assert hass.states.get(WATCHED).attributes["cause"] == "detector_overloaded"
    await _tick(hass, freezer, 5)
    await _report(hass)
    assert _state(hass, WATCHED) == "on"
    assert [g.data["cause"] for g in gaps] == ["detector_overloaded"]
    assert gaps[0].data["seconds"] == 20


async def test_a_covered_camera_is_not_watched_though_its_frames_are_analysed(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    gaps = async_capture_events(hass, EVENT_COVERAGE_GAP)
    await _report(hass)
    covered = [{"code": "covered", "count": 1, "detail": "the picture is almost black and flat"}]
    await _camera_stats(hass, problems=covered)
    assert _state(hass, WATCHED) == "off"  # at once: the camera's own check already waited
    assert hass.states.get(WATCHED).attributes["cause"] == "camera_tampered"
    await _tick(hass, freezer, 4)
    await _report(hass)
    await _camera_stats(hass, problems=[])
    assert _state(hass, WATCHED) == "on"
    assert [(g.data["cause"], g.data["seconds"]) for g in gaps] == [("camera_tampered", 4.0)]


async def test_a_camera_gone_offline_is_off_and_one_switched_off_is_not_a_gap(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    gaps = async_capture_events(hass, EVENT_COVERAGE_GAP)
    await _report(hass)
    fire(hass, "bobby/camera/porch/status", "offline")  # live: the broker clears the retain flag
    await _tick(hass, freezer, BOUND)
    assert _state(hass, WATCHED) == "off"
    assert hass.states.get(WATCHED).attributes["cause"] == "camera_off"
    # It comes back switched off (its own configuration; nobody asked otherwise in Home
    # Assistant): not meant to be watched, so the gap ends and no new one opens.
    fire(hass, "bobby/camera/porch/status", "online")
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0})
    await hass.async_block_till_done()
    assert [g.data["cause"] for g in gaps] == ["camera_off"]
    await _tick(hass, freezer, 600)
    assert _state(hass, WATCHED) == "off"
    assert hass.states.get(WATCHED).attributes["cause"] is None
    assert len(gaps) == 1
    # Meant for 12.5 s, unwatched for all of it; the 600 s switched off do not count.
    assert _state(hass, COVERAGE) == "0.0"


async def test_a_camera_whose_source_gives_nothing_is_silent(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await _report(hass)
    lost = [{"code": "source_unavailable", "count": 1, "detail": "stream lost"}]
    await _camera_stats(hass, fps=0.0, problems=lost)
    await _tick(hass, freezer, BOUND)
    assert hass.states.get(WATCHED).attributes["cause"] == "camera_silent"


async def test_cut_off_from_the_broker_watched_is_unknown(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    await _report(hass)
    hub = init_integration.runtime_data
    hub.connection.on_connection(False)
    await hass.async_block_till_done()
    assert _state(hass, WATCHED) == "unknown"
    hub.connection.on_connection(True)
    await _tick(hass, freezer, 3)  # BROKER_SETTLE
    await _report(hass)
    assert _state(hass, WATCHED) == "on"


async def test_removing_the_cameras_device_forgets_its_coverage(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    hub = init_integration.runtime_data
    fire(hass, "bobby/camera/porch/status", "offline")
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    await hub.async_forget(hub.agents["camera_porch"])
    await hub.async_forget(hub.agents["detector_pi4"])
    assert hub.watching.coverage.watched("porch") is None
    assert hub.watching.coverage.bound("porch") == 2 * 10 + 3 * 10 + 1
