"""Load and headroom: each detector's Load and Capacity, the hub's Detection demand and
Detection capacity, and the repair when the detectors cannot keep up (capacity.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.bobby_camera.const import DOMAIN, ISSUE_CAPACITY

from .common import announce, fire, payload

LOAD = "sensor.pi_4_detector_load"
CAPACITY = "sensor.pi_4_detector_capacity"
DEMAND = "sensor.bobby_camera_detection_demand"
FLEET_CAPACITY = "sensor.bobby_camera_detection_capacity"


@pytest.fixture
def platforms() -> list[str]:
    """Only this platform."""
    return [Platform.SENSOR]


def detector_stats(hass: HomeAssistant, agent_id: str = "pi4", **changes: Any) -> None:
    fire(hass, f"bobby/detector/{agent_id}/stats", payload("detector_pi4", "stats", **changes))


def camera(hass: HomeAssistant, agent_id: str, name: str, fps: float, *, enabled: bool = True) -> None:
    """A camera agent online with this rate."""
    info = {**payload("camera_porch", "info"), "id": agent_id, "name": name}
    fire(hass, f"bobby/camera/{agent_id}/status", "online", retain=True)
    fire(hass, f"bobby/camera/{agent_id}/info", info, retain=True)
    fire(hass, f"bobby/camera/{agent_id}/state", {"v": 1, "enabled": enabled, "fps": fps}, retain=True)


def detector(hass: HomeAssistant, agent_id: str) -> None:
    """Another detector like the fixture's pi4, online and enabled."""
    fire(hass, f"bobby/detector/{agent_id}/status", "online", retain=True)
    info = {**payload("detector_pi4", "info"), "id": agent_id, "name": f"Detector {agent_id}"}
    fire(hass, f"bobby/detector/{agent_id}/info", info, retain=True)
    fire(hass, f"bobby/detector/{agent_id}/state", payload("detector_pi4", "state"), retain=True)


def issue(issue_registry: ir.IssueRegistry) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, ISSUE_CAPACITY)


async def test_detector_load_and_capacity(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Load in % of the workers' time and capacity in fps, from the detector's stats."""
    announce(hass, "detector_pi4", stats=False)
    detector_stats(hass, load=0.62, capacity_fps=19.1)
    await hass.async_block_till_done()
    assert hass.states.get(LOAD).state == "62.0"
    assert hass.states.get(LOAD).attributes["unit_of_measurement"] == "%"
    assert hass.states.get(CAPACITY).state == "19.1"
    assert hass.states.get(CAPACITY).attributes["unit_of_measurement"] == "fps"
    # An idle detector that never analysed a frame knows no cost yet; an older one sends neither.
    detector_stats(hass, load=0.0, capacity_fps=None)
    await hass.async_block_till_done()
    assert hass.states.get(LOAD).state == "0.0"
    assert hass.states.get(CAPACITY).state == STATE_UNKNOWN
    detector_stats(hass)
    await hass.async_block_till_done()
    assert hass.states.get(LOAD).state == STATE_UNKNOWN
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get(LOAD).state == STATE_UNAVAILABLE


async def test_hub_demand_and_capacity(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Demand: the rates of the enabled, online cameras; capacity: the online, enabled detectors'."""
    assert hass.states.get(DEMAND).state == "0.0"
    assert hass.states.get(FLEET_CAPACITY).state == STATE_UNKNOWN
    camera(hass, "porch", "Porch", 2.0)
    camera(hass, "drive", "Driveway", 5.0)
    camera(hass, "shed", "Shed", 4.0, enabled=False)  # asks for nothing while disabled
    announce(hass, "detector_pi4", stats=False)
    detector_stats(hass, capacity_fps=19.1)
    detector(hass, "pi5")
    detector_stats(hass, "pi5", capacity_fps=30.4)
    await hass.async_block_till_done()
    demand = hass.states.get(DEMAND)
    assert demand.state == "7.0"
    assert demand.attributes["cameras"] == {"Driveway": 5.0, "Porch": 2.0}
    capacity = hass.states.get(FLEET_CAPACITY)
    assert capacity.state == "49.5"
    assert capacity.attributes["detectors"] == 2
    # A detector that goes offline or is switched off offers nothing; a camera offline asks nothing.
    fire(hass, "bobby/detector/pi5/status", "offline")
    fire(hass, "bobby/camera/drive/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get(FLEET_CAPACITY).state == "19.1"
    assert hass.states.get(DEMAND).state == "2.0"
    fire(hass, "bobby/detector/pi4/state", {"v": 1, "enabled": False, "threshold": 0.5})
    await hass.async_block_till_done()
    assert hass.states.get(FLEET_CAPACITY).state == STATE_UNKNOWN


async def test_repair_when_demand_nears_capacity(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """Over 90 % of capacity: a repair naming the figures and the busiest cameras; it clears
    below 85 % (between the two it stays as it is)."""
    camera(hass, "porch", "Porch", 2.0)
    camera(hass, "drive", "Driveway", 5.0)
    announce(hass, "detector_pi4", stats=False)
    detector_stats(hass, capacity_fps=8.0)  # 7 of 8: 88 %
    await hass.async_block_till_done()
    assert issue(issue_registry) is None
    detector_stats(hass, capacity_fps=7.5)  # 93 %: a costlier frame (more regions)
    await hass.async_block_till_done()
    opened = issue(issue_registry)
    assert opened is not None
    assert opened.translation_key == ISSUE_CAPACITY
    assert opened.translation_placeholders == {
        "demand": "7",
        "capacity": "7.5",
        "percent": "93",
        "detectors": "1",
        "dropping": "none",
        "excess": "0.2",
        "cameras": "Driveway (5 fps), Porch (2 fps)",
    }
    detector_stats(hass, capacity_fps=8.0)  # 88 %: not yet clear
    await hass.async_block_till_done()
    assert issue(issue_registry) is not None
    fire(hass, "bobby/camera/drive/state", {"v": 1, "enabled": True, "fps": 4.0})  # the owner lowers it
    await hass.async_block_till_done()
    assert issue(issue_registry) is None  # 6 of 8: 75 %


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_repair_when_a_detector_drops_frames_for_a_minute(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Frames dropped in every report for over a minute: a repair even with demand under capacity
    (the rates of one camera come in bursts); a report without new drops clears it."""
    camera(hass, "porch", "Porch", 2.0)
    announce(hass, "detector_pi4", stats=False)
    dropped = 50
    detector_stats(hass, capacity_fps=19.1, frames_dropped=dropped)
    for report in range(1, 14):  # a report every 5 s, each with new drops: 60 s from the first
        await _tick(hass, freezer, 5)
        dropped += 3
        detector_stats(hass, capacity_fps=19.1, frames_dropped=dropped)
        await hass.async_block_till_done()
        if report < 13:
            assert issue(issue_registry) is None, report
    opened = issue(issue_registry)
    assert opened is not None
    assert opened.translation_placeholders["dropping"] == "Pi 4 detector"
    assert opened.translation_placeholders["percent"] == "10"
    assert opened.translation_placeholders["excess"] == "0.0"
    await _tick(hass, freezer, 5)
    detector_stats(hass, capacity_fps=19.1, frames_dropped=dropped)  # none dropped since
    await hass.async_block_till_done()
    assert issue(issue_registry) is None


async def test_repair_clears_when_no_detector_reports_a_capacity(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """With no detector online the offline repair speaks; this one does not guess."""
    camera(hass, "porch", "Porch", 2.0)
    announce(hass, "detector_pi4", stats=False)
    detector_stats(hass, capacity_fps=1.0)
    await hass.async_block_till_done()
    assert issue(issue_registry) is not None
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert issue(issue_registry) is None


async def test_an_older_detector_dropping_frames(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A detector without load and capacity in its stats (before issue 26) still shows when it
    drops frames; the figures it cannot give say so."""
    announce(hass, "detector_pi4", stats=False)
    fire(hass, "bobby/camera/porch/stats", payload("camera_porch", "stats"))  # a camera's: no drops
    for report in range(14):
        detector_stats(hass, frames_dropped=50 + 3 * report)
        await _tick(hass, freezer, 5)
    opened = issue(issue_registry)
    assert opened is not None
    assert {k: opened.translation_placeholders[k] for k in ("capacity", "percent", "excess", "cameras")} == {
        "capacity": "?",
        "percent": "?",
        "excess": "?",
        "cameras": "none",
    }
    detector_stats(hass, frames_dropped=50 + 3 * 13)
    await hass.async_block_till_done()
    assert issue(issue_registry) is None
