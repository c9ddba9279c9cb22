"""Issue 21 on HA's mocked MQTT client: monitoring that tells the truth.

- A lie is a problem, once: an agent that acks `off` and keeps reporting `on` has a
  state_mismatch within one command timeout, the switch shows the owner's wish (no
  flapping), and re-sending backs off (the count is in the issue).
- An ok ack whose own state lacks what was asked fails the command at once.
- The hub switch ignores what offline agents last reported.
- Many agents with the same problem: one summary issue.
- HA's own connection lost (the real-broker version is test_broker_outage.py): no agent
  is blamed, one hub issue after the grace, deadlines counted again from the return.
- HA's MQTT client's "Can't decode payload" lines for our topics are counted, not logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, WebSocketGenerator

from custom_components.bobby_camera.bad_input import MQTT_CLIENT_LOGGER
from custom_components.bobby_camera.const import DOMAIN, EVENT_AGENT_PROBLEM, ISSUE_BROKER
from tests.integration.common import settle

from .common import announce, fire, payload
from .test_trust import HUB_SWITCH, PROBLEM, SWITCH, _ack, _issues, _sets, _turn_off


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


def _changes(hass: HomeAssistant, entity_id: str) -> list[str]:
    """The states an entity takes from now on."""
    seen: list[str] = []

    @callback
    def record(event: Event) -> None:
        if event.data["entity_id"] == entity_id and event.data["new_state"] is not None:
            old = event.data["old_state"]
            if old is None or old.state != event.data["new_state"].state:
                seen.append(event.data["new_state"].state)

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    return seen


async def test_agent_that_acks_off_and_reports_on_is_a_problem_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Issue 21, 2: state_mismatch within the command timeout, no flapping, bounded re-sending."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    task = _turn_off(hass)
    await settle()
    _ack(hass, _sets(mqtt_mock)[-1]["id"], enabled=False, fps=2.0)
    await task
    assert hass.states.get(SWITCH).state == "off"
    switch_states = _changes(hass, SWITCH)
    sent = len(_sets(mqtt_mock))
    # For 40 s the agent reports `on` every second, and acks every command with `off`.
    for second in range(40):
        fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": True, "fps": 2.0})
        fire(hass, "bobby/camera/porch/stats", payload("camera_porch", "stats"))
        await settle()
        for command in _sets(mqtt_mock)[sent:]:
            _ack(hass, command["id"], enabled=False, fps=2.0)
        sent = len(_sets(mqtt_mock))
        await _tick(hass, freezer, 1)
        if second == 9:  # within one command timeout (10 s) of the first contradiction
            assert "state_mismatch" in hass.states.get(PROBLEM).attributes["problems"]
    assert switch_states == []  # the owner's wish all along, the problem beside it
    assert hass.states.get(PROBLEM).state == "on"
    resent = len(_sets(mqtt_mock)) - 1
    assert 1 <= resent <= 3  # back-off: at 0, +10, +30 s (was: once per report, 40)
    issue = issue_registry.async_get_issue(DOMAIN, "camera_porch_state_mismatch")
    assert issue is not None
    assert issue.translation_placeholders["resent"] == str(resent)
    # The agent comes round: its report agrees, and the problem clears.
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0})
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "off"
    assert _issues(issue_registry) == set()


async def test_ok_ack_that_shows_the_old_state_fails_the_command(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
) -> None:
    """Issue 21, 2: `ok` with a state still `on` is not success; the mismatch shows at once."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    task = _turn_off(hass)
    await settle()
    _ack(hass, _sets(mqtt_mock)[-1]["id"], enabled=True, fps=2.0)
    with pytest.raises(HomeAssistantError, match="acknowledged the command but reports enabled=True"):
        await task
    assert hass.states.get(PROBLEM).attributes["problems"] == ["state_mismatch"]
    assert hass.states.get(SWITCH).state == "off"  # the wish, with the problem beside it


async def test_hub_switch_ignores_offline_agents(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Issue 21, 4: an offline agent's last `off` does not make the hub switch say off."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    fire(hass, "bobby/detector/pi4/state", {"v": 1, "enabled": False})
    await hass.async_block_till_done()
    assert hass.states.get(HUB_SWITCH).state == "off"
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get(HUB_SWITCH).state == "on"


async def test_disarm_all_with_a_frozen_camera_is_a_clean_error(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Issue 21, 4: the UI's call gets a translated error (no traceback), the summary issue names it."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": "switch",
            "service": "turn_off",
            "target": {"entity_id": HUB_SWITCH},
        }
    )
    await settle()
    await _tick(hass, freezer, 10.5)
    result = await client.receive_json()
    assert result["success"] is False
    assert result["error"]["code"] == "home_assistant_error"
    assert result["error"]["message"].startswith("1 of 1 agents did not apply the command")


@pytest.mark.parametrize("options", [{"max_agents": 64}])
async def test_many_agents_with_one_problem_make_one_issue(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Issue 21, 3: 20 announced agents fall silent: one `many_silent` issue, not 20."""
    for n in range(20):
        info = {**payload("camera_porch", "info"), "id": f"cam{n}", "name": f"Cam {n}"}
        fire(hass, f"bobby/camera/cam{n}/status", "online", retain=True)
        fire(hass, f"bobby/camera/cam{n}/info", info, retain=True)
    await hass.async_block_till_done()
    await _tick(hass, freezer, 31)
    assert _issues(issue_registry) == {"many_silent"}
    assert issue_registry.async_get_issue(DOMAIN, "many_silent").translation_placeholders["count"] == "20"
    for n in range(18):
        fire(hass, f"bobby/camera/cam{n}/stats", payload("camera_porch", "stats"))
    await hass.async_block_till_done()
    assert _issues(issue_registry) == {"camera_cam18_silent", "camera_cam19_silent"}  # unfolded
    fire(hass, "bobby/camera/cam18/stats", payload("camera_porch", "stats"))
    fire(hass, "bobby/camera/cam19/stats", payload("camera_porch", "stats"))
    await hass.async_block_till_done()
    assert _issues(issue_registry) == set()


@pytest.mark.parametrize("options", [{"offline_grace": 30.0}])
async def test_ha_cut_off_from_the_broker_blames_no_agent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Issue 21, 1: HA's connection down for 60 s: one hub issue, no agent issue or event."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    events = async_capture_events(hass, EVENT_AGENT_PROBLEM)
    hub = init_integration.runtime_data
    hub.connection.on_connection(False)  # what mqtt.async_subscribe_connection_status calls
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_connectivity").state == "unknown"
    assert hass.states.get(SWITCH).state == "unavailable"
    await _tick(hass, freezer, 29)
    assert _issues(issue_registry) == set()
    await _tick(hass, freezer, 31)
    assert _issues(issue_registry) == {ISSUE_BROKER}
    hub.connection.on_connection(False)  # a second report of the same outage changes nothing
    hub.connection.on_connection(True)
    await hass.async_block_till_done()
    assert _issues(issue_registry) == set()
    assert hass.states.get("binary_sensor.porch_connectivity").state == "on"
    await _tick(hass, freezer, 3)  # settled: watched again, from now
    await _tick(hass, freezer, 29)  # three stats intervals (30 s) not yet over since the return
    assert _issues(issue_registry) == set()
    assert events == []
    await _tick(hass, freezer, 2)
    assert _issues(issue_registry) == {"camera_porch_silent"}  # a real silence is still seen


async def test_undecodable_payloads_on_our_topics_are_counted_not_logged(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 21, 3: HA's client would log 8 KB of each (the hub's own subscription counts them)."""
    client_log = logging.getLogger(MQTT_CLIENT_LOGGER)
    hostile = b"\xff" * 9000
    for _ in range(100):
        client_log.warning(
            "Can't decode payload %s on %s with encoding %s (for %s)",
            hostile,
            "bobby/camera/x/info",
            "utf-8",
            "job",
        )
    client_log.warning(
        "Can't decode payload %s on %s with encoding %s (for %s)", b"\xff", "other/x", "utf-8", "j"
    )
    client_log.warning("Can't decode payload %s", b"\xff")
    client_log.warning("Something else on %s", "bobby/camera/x/info")
    assert len(caplog.text) < 5_000
    assert "other/x" in caplog.text  # not ours: left alone
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    client_log.warning(
        "Can't decode payload %s on %s with encoding %s (for %s)", b"\xfe", "bobby/a", "utf-8", "j"
    )
    assert "bobby/a" in caplog.text  # the filter goes with the hub
