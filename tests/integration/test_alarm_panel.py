"""The hub's alarm panel: verified arming (issue 22, part 4), in Home Assistant.

Arming enables every agent; the panel is *armed* only once every camera meant to watch is
Watched and every online detector is free of problems; a person while armed triggers it;
disarming in view of a person is refused unless the option allows it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera import protocol
from custom_components.bobby_camera.const import DOMAIN, ISSUE_ARMING_UNVERIFIED

from .common import announce, detection, fire, payload, settle
from .test_selftest import person_in

PANEL = "alarm_control_panel.bobby_camera_alarm"
HUB_SWITCH = "switch.bobby_camera_all_agents_enabled"


@pytest.fixture(autouse=True)
async def agents(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """The porch camera (2 fps) and the pi4 detector (stats every 5 s), enabled, time frozen."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()


def _state(hass: HomeAssistant) -> str:
    state = hass.states.get(PANEL)
    assert state is not None
    return state.state


def _culprits(hass: HomeAssistant) -> list[str]:
    return list(hass.states.get(PANEL).attributes["culprits"])


def _call(hass: HomeAssistant, service: str) -> asyncio.Task[None]:
    """Start a panel action (it waits for the agents' acks)."""
    return hass.async_create_background_task(
        hass.services.async_call("alarm_control_panel", service, {"entity_id": PANEL}, blocking=True),
        "panel action",
    )


async def _ack_all(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, *, enabled: bool) -> None:
    """Each agent applies the last command it got and says so."""
    settings = {"porch": ("camera", {"fps": 2.0}), "pi4": ("detector", {"threshold": 0.5})}
    for agent_id, (kind, state) in settings.items():
        topic = f"bobby/{kind}/{agent_id}/set"
        sent = [json.loads(c.args[1]) for c in mqtt_mock.async_publish.call_args_list if c.args[0] == topic]
        command = sent[-1]
        assert command["enabled"] is enabled
        full = {"v": 1, "enabled": enabled, **state}
        fire(hass, f"bobby/{kind}/{agent_id}/state", full)
        fire(hass, f"bobby/{kind}/{agent_id}/ack", {"v": 1, "id": command["id"], "ok": True, "state": full})
    await settle()


async def _report(hass: HomeAssistant, **more: Any) -> None:
    """pi4's stats: it analysed porch's frames."""
    cameras = {"porch": {"analysed": 5, "dropped": 0, "last_frame_time": 1795000000.0}}
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats", cameras=cameras, **more))
    await hass.async_block_till_done()


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def _arm(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, service: str = "alarm_arm_away") -> None:
    task = _call(hass, service)
    await settle()
    await _ack_all(hass, mqtt_mock, enabled=True)
    await task


async def test_arming_becomes_armed_once_every_camera_is_watched(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, issue_registry: ir.IssueRegistry
) -> None:
    assert _state(hass) == "disarmed"
    assert hass.states.get(PANEL).attributes["supported_features"] == 3  # arm home, arm away
    assert hass.states.get(PANEL).attributes["code_arm_required"] is False
    task = _call(hass, "alarm_arm_away")
    await settle()
    assert _state(hass) == "arming"  # at once: what the owner chose is recorded
    await _ack_all(hass, mqtt_mock, enabled=True)
    await task
    assert _state(hass) == "arming"  # every agent enabled, but nothing proven watched yet
    assert _culprits(hass) == ["camera Porch not watched (not yet proven)"]
    await _report(hass)
    assert _state(hass) == "armed_away"
    assert _culprits(hass) == []
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ARMING_UNVERIFIED) is None


async def test_arm_home_and_disarm_switch_every_agent(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    await _arm(hass, mqtt_mock, "alarm_arm_home")
    await _report(hass)
    assert _state(hass) == "armed_home"
    assert hass.states.get(HUB_SWITCH).state == "on"  # the hub switch still shows every agent
    task = _call(hass, "alarm_disarm")
    await settle()
    assert _state(hass) == "disarmed"
    await _ack_all(hass, mqtt_mock, enabled=False)
    await task
    assert hass.states.get(HUB_SWITCH).state == "off"
    assert hass.states.get("binary_sensor.porch_watched").state == "off"  # switched off: not meant


async def test_a_person_while_armed_triggers_it_until_the_person_state_clears(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, freezer: FrozenDateTimeFactory
) -> None:
    await _arm(hass, mqtt_mock)
    await _report(hass)
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()
    assert _state(hass) == "triggered"
    for _ in range(7):  # clear_after is 30 s; the detector keeps reporting
        await _tick(hass, freezer, 5)
        await _report(hass)
    assert hass.states.get("binary_sensor.porch_person").state == "off"
    assert _state(hass) == "armed_away"


async def test_a_person_in_view_when_it_becomes_armed_does_not_trigger_it(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, freezer: FrozenDateTimeFactory
) -> None:
    """The owner leaving past a camera: seen while arming, still there once armed; a new sighting triggers."""
    await _arm(hass, mqtt_mock)
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()
    assert _state(hass) == "arming"
    await _report(hass)
    assert _state(hass) == "armed_away"
    for _ in range(7):  # the person state clears after 30 s
        await _tick(hass, freezer, 5)
        await _report(hass)
    assert _state(hass) == "armed_away"
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()
    assert _state(hass) == "triggered"


async def test_disarming_in_view_of_a_person_is_refused(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    await _arm(hass, mqtt_mock)
    await _report(hass)
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "alarm_control_panel", "alarm_disarm", {"entity_id": PANEL}, blocking=True
        )
    assert err.value.translation_key == "disarm_person_present"
    assert err.value.translation_placeholders == {"names": "Porch"}
    assert _state(hass) == "triggered"
    assert hass.states.get(HUB_SWITCH).state == "on"


@pytest.mark.parametrize("options", [{"allow_disarm_with_person": True}])
async def test_the_option_allows_disarming_in_view_of_a_person(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    await _arm(hass, mqtt_mock)
    await _report(hass)
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()
    task = _call(hass, "alarm_disarm")
    await settle()
    await _ack_all(hass, mqtt_mock, enabled=False)
    await task
    assert _state(hass) == "disarmed"


async def test_unverified_arming_names_each_culprit_in_one_repair(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Armed, then the detector reports a problem of its own and stops analysing porch's frames."""
    await _arm(hass, mqtt_mock)
    await _report(hass)
    assert _state(hass) == "armed_away"
    blind = [{"code": "blind", "count": 1, "detail": "the self-test picture's person was not found"}]
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats", cameras={}, problems=blind))
    await hass.async_block_till_done()
    assert _state(hass) == "arming"
    assert _culprits(hass) == ["detector Pi 4 detector: blind"]
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ARMING_UNVERIFIED) is None  # not before the grace
    for _ in range(5):  # the grace: the command timeout (10 s) + porch's bound (12.5 s)
        await _tick(hass, freezer, 5)
        fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats", cameras={}, problems=blind))
        await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ARMING_UNVERIFIED)
    assert issue is not None
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": True, "fps": 2.0})  # any report: judged again
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ARMING_UNVERIFIED)
    assert issue.translation_placeholders["culprits"] == (
        "- camera Porch not watched (no_detector)\n- detector Pi 4 detector: blind"
    )
    assert issue.translation_placeholders["grace"] == "22.5"
    # The detector recovers and analyses porch's frames again: armed, the repair goes.
    await _report(hass, problems=[])
    assert _state(hass) == "armed_away"
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ARMING_UNVERIFIED) is None


async def test_without_a_detector_or_a_camera_it_is_never_armed(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    await _arm(hass, mqtt_mock)
    await _report(hass)
    fire(hass, "bobby/detector/pi4/status", "offline")
    await hass.async_block_till_done()
    assert "no detector online" in _culprits(hass)
    # Every camera switched off (the hub switch; the panel keeps its mode): nothing to verify.
    hub = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    hub.agents["camera_porch"].desired.enabled = None  # as if never set from Home Assistant
    fire(hass, "bobby/detector/pi4/status", "online")
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0})
    await _report(hass)
    assert _state(hass) == "arming"
    assert "no camera enabled" in _culprits(hass)


async def test_the_armed_mode_survives_a_restart(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    await _arm(hass, mqtt_mock)
    await _report(hass)
    assert _state(hass) == "armed_away"
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert _state(hass) == "arming"  # armed as chosen; verified again from fresh reports
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await _report(hass)
    assert _state(hass) == "armed_away"


async def test_an_agent_that_does_not_confirm_the_arming_is_named(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, freezer: FrozenDateTimeFactory
) -> None:
    task = _call(hass, "alarm_arm_away")
    await settle()
    freezer.tick(timedelta(seconds=10.5))  # the command timeout: nobody answered
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "command_all_failed"
    assert _state(hass) == "arming"  # the mode stays: re-asserted when the agents answer


async def test_a_detector_that_takes_self_tests_counts_once_it_passed_one(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """A detector that has just come online is not proven yet: the panel stays arming until
    its first self-test passes, though no problem is open (test_selftest.py judges answers)."""
    info = payload("detector_pi4", "info")
    info["capabilities"] = [*info.get("capabilities", []), "selftest"]
    fire(hass, "bobby/detector/pi4/info", info)  # live, as a restarted agent announces itself
    await hass.async_block_till_done(wait_background_tasks=True)
    await _arm(hass, mqtt_mock)
    await _report(hass)
    assert _state(hass) == "arming"
    assert _culprits(hass) == ["detector Pi 4 detector: self-test not passed yet"]
    requests = [
        protocol.split_selftest(c.args[1])
        for c in mqtt_mock.async_publish.call_args_list
        if c.args[0] == "bobby/detector/pi4/selftest"
    ]
    assert requests, "the core tests a detector that announces the capability"
    header, jpeg = requests[-1]
    fire(
        hass,
        "bobby/detector/pi4/selftest_result",
        {"v": 1, "id": header["id"], "ok": True, "boxes": [{"score": 0.9, "box": list(person_in(jpeg))}]},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _state(hass) == "armed_away"
