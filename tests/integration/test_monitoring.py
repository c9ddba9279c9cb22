"""Monitoring: offline, silent and unanswered agents become problems, events and repairs."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera.const import DOMAIN, EVENT_AGENT_PROBLEM

from .common import announce, fire, payload

PROBLEM = "binary_sensor.pi_4_detector_problem"
CONNECTIVITY = "binary_sensor.pi_4_detector_connectivity"


@pytest.fixture(autouse=True)
async def detector(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A detector agent (stats every 5 s) announced, with time frozen before any timer starts."""
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_silent_agent(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, issue_registry: ir.IssueRegistry
) -> None:
    """No stats for three intervals (15 s): problem, event and repair; the next stats clear them."""
    events = async_capture_events(hass, EVENT_AGENT_PROBLEM)
    await _tick(hass, freezer, 10)
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats"))  # heartbeat resets the clock
    await _tick(hass, freezer, 14)
    assert hass.states.get(PROBLEM).state == "off"
    await _tick(hass, freezer, 1.5)
    assert hass.states.get(PROBLEM).state == "on"
    assert hass.states.get(PROBLEM).attributes["problems"] == ["silent"]
    assert hass.states.get(CONNECTIVITY).state == "off"
    assert hass.states.get("sensor.pi_4_detector_inference_time").state == "unavailable"
    issue = issue_registry.async_get_issue(DOMAIN, "detector_pi4_silent")
    assert issue is not None
    assert issue.translation_key == "silent"
    assert issue.translation_placeholders["missed_after"] == "15"
    assert issue.translation_placeholders["name"] == "Pi 4 detector"
    assert [(e.data["problem"], e.data["active"]) for e in events] == [("silent", True)]
    assert events[0].data["agent_id"] == "pi4"

    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats"))
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "off"
    assert hass.states.get(CONNECTIVITY).state == "on"
    assert issue_registry.async_get_issue(DOMAIN, "detector_pi4_silent") is None
    assert [(e.data["problem"], e.data["active"]) for e in events] == [("silent", True), ("silent", False)]


async def test_offline_agent(hass: HomeAssistant, issue_registry: ir.IssueRegistry) -> None:
    """The last will turns the problem on with a repair; online again clears it."""
    events = async_capture_events(hass, EVENT_AGENT_PROBLEM)
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "on"
    issue = issue_registry.async_get_issue(DOMAIN, "detector_pi4_offline")
    assert issue.translation_placeholders["topic"] == "bobby/detector/pi4/status"
    assert issue.severity is ir.IssueSeverity.WARNING
    fire(hass, "bobby/detector/pi4/status", "online")
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "off"
    assert issue_registry.async_get_issue(DOMAIN, "detector_pi4_offline") is None
    assert [(e.data["problem"], e.data["active"]) for e in events] == [("offline", True), ("offline", False)]


async def test_offline_silence_is_not_reported_twice(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, issue_registry: ir.IssueRegistry
) -> None:
    """An offline agent is expected to be silent: one problem, not two."""
    fire(hass, "bobby/detector/pi4/status", "offline")
    await _tick(hass, freezer, 60)
    assert hass.states.get(PROBLEM).attributes["problems"] == ["offline"]
    assert issue_registry.async_get_issue(DOMAIN, "detector_pi4_silent") is None


async def test_unacknowledged_command(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
) -> None:
    """A command without ack within the timeout is a problem until the agent answers again."""
    hub = init_integration.runtime_data
    agent = hub.agents["detector_pi4"]
    events = async_capture_events(hass, EVENT_AGENT_PROBLEM)
    task = hass.async_create_background_task(
        hass.services.async_call(
            "switch", "turn_off", {"entity_id": "switch.pi_4_detector_enabled"}, blocking=True
        ),
        "switch off",
    )
    for _ in range(10):
        await asyncio.sleep(0)
    freezer.tick(timedelta(seconds=10.5))
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError):
        await task
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "on"
    assert hass.states.get(PROBLEM).attributes["failed_command"] == "enabled=False"
    issue = issue_registry.async_get_issue(DOMAIN, "detector_pi4_command_timeout")
    assert issue.translation_placeholders["command"] == "enabled=False"
    assert issue.translation_placeholders["timeout"] == "10"
    assert events[-1].data["problem"] == "command_timeout"

    # The agent answers the next command: the problem clears by itself.
    task = hass.async_create_background_task(hub.control.async_set_enabled(agent, False), "again")
    for _ in range(10):
        await asyncio.sleep(0)
    request_id = json.loads(mqtt_mock.async_publish.call_args.args[1])["id"]
    fire(
        hass,
        "bobby/detector/pi4/ack",
        {"v": 1, "id": request_id, "ok": True, "state": {"v": 1, "enabled": False}},
    )
    await task
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "off"
    assert hass.states.get("switch.pi_4_detector_enabled").state == "off"
    assert issue_registry.async_get_issue(DOMAIN, "detector_pi4_command_timeout") is None


async def test_invalid_messages_are_counted_not_fatal(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Hostile payloads are logged and counted; the hub keeps working."""
    hub = init_integration.runtime_data
    fire(hass, "bobby/detector/pi4/stats", "{not json")
    fire(hass, "bobby/detector/pi4/stats", {"v": 99, "uptime": 1, "fps": 1})
    fire(hass, "bobby/camera/porch/detection", {"v": 1, "camera": "other"})
    fire(hass, "bobby/detector/pi4/status", b"\xff\xfe")
    await hass.async_block_till_done()
    assert hub.invalid_messages == 4
    assert "does not follow docs/protocol.md" in caplog.text
    assert "camera_porch" not in hub.agents
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats", fps=3.5))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_4_detector_analysed_frame_rate").state == "3.5"


async def test_unavailable_is_logged_once_at_info_and_once_back(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """HA's log-when-unavailable rule: one info line when an agent goes, one when it is back,
    however many messages say the same in between."""
    caplog.set_level(logging.INFO, logger="custom_components.bobby_camera")
    caplog.clear()
    for _ in range(3):
        fire(hass, "bobby/detector/pi4/status", "offline")
        await hass.async_block_till_done()
    fire(hass, "bobby/detector/pi4/status", "online")
    await hass.async_block_till_done()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("custom_components")]
    assert lines == [
        (logging.INFO, "detector pi4 has a problem: offline"),
        (logging.INFO, "detector pi4 recovered from: offline"),
    ]
