"""Switches show acknowledged state only; commands are tracked by request id."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.components.switch import SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from tests.integration.common import settle

from .common import announce, entity_summary, fire

CAMERA_SWITCH = "switch.porch_enabled"
HUB_SWITCH = "switch.bobby_camera_all_agents_enabled"


@pytest.fixture
def platforms() -> list[str]:
    """Only this platform."""
    return [Platform.SWITCH]


@pytest.fixture
async def agents(hass: HomeAssistant, init_integration: MockConfigEntry) -> MockConfigEntry:
    """A camera and a detector agent announced."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    return init_integration


def _call(hass: HomeAssistant, service: str, entity_id: str) -> asyncio.Task[None]:
    """Start a switch action that waits for its ack."""
    return hass.async_create_background_task(
        hass.services.async_call(SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: entity_id}, blocking=True),
        "switch action",
    )


def _sent(mqtt_mock: MqttMockHAClient, topic: str) -> list[dict]:
    """Commands published to one set topic, with their qos and retain flags checked."""
    commands = []
    for call in mqtt_mock.async_publish.call_args_list:
        if call.args[0] == topic:
            assert call.args[2:] == (1, False)  # QoS 1, not retained (docs/protocol.md)
            commands.append(json.loads(call.args[1]))
    return commands


async def _ack(hass: HomeAssistant, topic: str, request_id: str, **state: object) -> None:
    fire(hass, topic, {"v": 1, "id": request_id, "ok": True, "state": {"v": 1, **state}})
    await settle()


async def test_entities(hass: HomeAssistant, agents: MockConfigEntry, snapshot: SnapshotAssertion) -> None:
    """The enable switches and the hub switch."""
    assert entity_summary(hass, agents.entry_id, "switch") == snapshot


async def test_turn_off_shows_only_acknowledged_state(
    hass: HomeAssistant, agents: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """The switch stays on until the agent's ack says it is off."""
    task = _call(hass, SERVICE_TURN_OFF, CAMERA_SWITCH)
    await settle()
    (command,) = _sent(mqtt_mock, "bobby/camera/porch/set")
    assert command["enabled"] is False
    assert command["v"] == 1
    assert hass.states.get(CAMERA_SWITCH).state == "on"  # not optimistic
    # An ack for another request changes nothing.
    await _ack(hass, "bobby/camera/porch/ack", "someone-else", enabled=False, fps=2.0)
    assert hass.states.get(CAMERA_SWITCH).state == "on"
    await _ack(hass, "bobby/camera/porch/ack", command["id"], enabled=False, fps=2.0)
    await task
    assert hass.states.get(CAMERA_SWITCH).state == "off"
    assert hass.states.get(HUB_SWITCH).state == "off"


async def test_rejected_command_raises_translated_error(
    hass: HomeAssistant, agents: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """ok: false from the agent becomes an error naming the agent's reason."""
    task = _call(hass, SERVICE_TURN_OFF, CAMERA_SWITCH)
    await settle()
    (command,) = _sent(mqtt_mock, "bobby/camera/porch/set")
    fire(hass, "bobby/camera/porch/ack", {"v": 1, "id": command["id"], "ok": False, "error": "camera busy"})
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "command_rejected"
    assert err.value.translation_placeholders["detail"] == "camera busy"
    assert hass.states.get(CAMERA_SWITCH).state == "on"
    assert hass.states.get("binary_sensor.porch_problem") is None  # platform not loaded here


async def test_timeout_raises_and_keeps_state(
    hass: HomeAssistant, agents: MockConfigEntry, mqtt_mock: MqttMockHAClient, freezer: FrozenDateTimeFactory
) -> None:
    """No ack within the command timeout: a translated error, the switch unchanged."""
    task = _call(hass, SERVICE_TURN_OFF, CAMERA_SWITCH)
    await settle()
    freezer.tick(timedelta(seconds=10.5))
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "command_timeout"
    assert "enabled=False" in err.value.translation_placeholders["detail"]
    assert hass.states.get(CAMERA_SWITCH).state == "on"


async def test_hub_switch_commands_every_agent(
    hass: HomeAssistant, agents: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """Switching the hub off sends a command to each agent and reflects their acks."""
    assert hass.states.get(HUB_SWITCH).state == "on"
    task = _call(hass, SERVICE_TURN_OFF, HUB_SWITCH)
    await settle()
    (cam,) = _sent(mqtt_mock, "bobby/camera/porch/set")
    (det,) = _sent(mqtt_mock, "bobby/detector/pi4/set")
    await _ack(hass, "bobby/camera/porch/ack", cam["id"], enabled=False, fps=2.0)
    assert hass.states.get(HUB_SWITCH).state == "off"  # one of two off
    assert not task.done()
    await _ack(hass, "bobby/detector/pi4/ack", det["id"], enabled=False, threshold=0.5)
    await task
    assert hass.states.get("switch.pi_4_detector_enabled").state == "off"
    # And on again.
    task = _call(hass, SERVICE_TURN_ON, HUB_SWITCH)
    await settle()
    cam = _sent(mqtt_mock, "bobby/camera/porch/set")[-1]
    det = _sent(mqtt_mock, "bobby/detector/pi4/set")[-1]
    assert cam["enabled"] is det["enabled"] is True
    await _ack(hass, "bobby/camera/porch/ack", cam["id"], enabled=True, fps=2.0)
    await _ack(hass, "bobby/detector/pi4/ack", det["id"], enabled=True, threshold=0.5)
    await task
    assert hass.states.get(HUB_SWITCH).state == "on"


async def test_switch_unavailable_while_offline(hass: HomeAssistant, agents: MockConfigEntry) -> None:
    """An offline agent cannot be switched."""
    fire(hass, "bobby/camera/porch/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get(CAMERA_SWITCH).state == STATE_UNAVAILABLE


async def test_hub_switch_names_the_agent_that_did_not_answer(
    hass: HomeAssistant, agents: MockConfigEntry, mqtt_mock: MqttMockHAClient, freezer: FrozenDateTimeFactory
) -> None:
    """Disarm-all with one silent agent: the others are switched, and the action fails
    (once every agent answered or timed out) naming the one that did not answer."""
    task = _call(hass, SERVICE_TURN_OFF, HUB_SWITCH)
    await settle()
    (cam,) = _sent(mqtt_mock, "bobby/camera/porch/set")
    await _ack(hass, "bobby/camera/porch/ack", cam["id"], enabled=False, fps=2.0)
    assert not task.done()
    freezer.tick(timedelta(seconds=10.5))
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError) as err:
        await task
    # One summary for the command to all (issue 11), naming who did not answer.
    assert err.value.translation_key == "command_all_failed"
    assert err.value.translation_placeholders["names"] == "Pi 4 detector"
    assert (err.value.translation_placeholders["failed"], err.value.translation_placeholders["total"]) == (
        "1",
        "2",
    )
    assert hass.states.get(CAMERA_SWITCH).state == "off"
    assert hass.states.get("switch.pi_4_detector_enabled").state == "on"


async def test_an_ack_counts_only_from_the_agent_commanded(
    hass: HomeAssistant, agents: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """The detector (or anyone) echoing the camera's request id does not answer for the
    camera; an ack nobody asked for changes nothing."""
    task = _call(hass, SERVICE_TURN_OFF, CAMERA_SWITCH)
    await settle()
    (cam,) = _sent(mqtt_mock, "bobby/camera/porch/set")
    await _ack(hass, "bobby/detector/pi4/ack", cam["id"], enabled=False, threshold=0.5)
    await _ack(hass, "bobby/camera/porch/ack", "0123456789abcdef", enabled=False, fps=2.0)
    assert not task.done()
    assert hass.states.get(CAMERA_SWITCH).state == "on"
    await _ack(hass, "bobby/camera/porch/ack", cam["id"], enabled=False, fps=2.0)
    await task
    assert hass.states.get(CAMERA_SWITCH).state == "off"
