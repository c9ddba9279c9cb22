"""Issue 11, Home Assistant's side: what HA turned off stays off, one bad message harms nothing.

Each test is one row of the issue's table (or one promise of its "What to build"), on
HA's mocked MQTT client; the same rows through a real Mosquitto are in
test_trust_broker.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.components.switch import SERVICE_TURN_OFF
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    MqttMockHAClient,
    WebSocketGenerator,
)

from custom_components.bobby_camera.commands import CommandError
from custom_components.bobby_camera.const import DOMAIN
from tests.integration.common import settle

from .common import JPEG, announce, device, fire, payload

SWITCH = "switch.porch_enabled"
HUB_SWITCH = "switch.bobby_camera_all_agents_enabled"
PROBLEM = "binary_sensor.porch_problem"


def _sets(mqtt_mock: MqttMockHAClient, topic: str = "bobby/camera/porch/set") -> list[dict[str, Any]]:
    return [json.loads(c.args[1]) for c in mqtt_mock.async_publish.call_args_list if c.args[0] == topic]


def _back_online(hass: HomeAssistant, name: str = "camera_porch", **state: Any) -> None:
    """A restarted agent's announcements as live subscribers get them (retain=False)."""
    kind, _, agent_id = name.partition("_")
    for channel in ("status", "info"):
        fire(hass, f"bobby/{kind}/{agent_id}/{channel}", payload(name, channel))
    fire(hass, f"bobby/{kind}/{agent_id}/state", payload(name, "state", **state))


def _ack(hass: HomeAssistant, request_id: str, topic: str = "bobby/camera/porch/ack", **state: Any) -> None:
    fire(hass, topic, {"v": 1, "id": request_id, "ok": True, "state": {"v": 1, **state}})


def _turn_off(hass: HomeAssistant, entity_id: str = SWITCH) -> asyncio.Task[None]:
    return hass.async_create_background_task(
        hass.services.async_call(SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: entity_id}, blocking=True),
        "turn off",
    )


async def _switch_porch_off(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """The owner turns the camera off in HA; the agent applies and acknowledges it."""
    task = _turn_off(hass)
    await settle()
    command = _sets(mqtt_mock)[-1]
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0}, retain=True)
    _ack(hass, command["id"], enabled=False, fps=2.0)
    await task
    assert hass.states.get(SWITCH).state == "off"


def _issues(issue_registry: ir.IssueRegistry) -> set[str]:
    return {issue_id for (domain, issue_id) in issue_registry.issues if domain == DOMAIN}


# --- HA owns the desired state ----------------------------------------------------------


async def test_agent_restarting_on_is_switched_off_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Row 1: switched off in HA, the agent restarts and comes back on: HA re-asserts off.

    The switch never shows the agent's `on` as the truth for long: HA sends `enabled:
    false` as soon as the agent is back, and shows off once the agent applied it.
    """
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    await _switch_porch_off(hass, mqtt_mock)
    sent_before = len(_sets(mqtt_mock))

    # The agent crashes (last will) and restarts with its configuration: enabled.
    fire(hass, "bobby/camera/porch/status", "offline")
    fire(hass, "bobby/camera/porch/status", "online")
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": True, "fps": 2.0})
    await settle()
    reasserted = _sets(mqtt_mock)[sent_before:]
    assert reasserted, "HA did not re-assert the desired state"
    assert all(c["enabled"] is False for c in reasserted)
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0})
    _ack(hass, reasserted[-1]["id"], enabled=False, fps=2.0)
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).state == "off"
    assert hass.states.get(PROBLEM).state == "off"
    assert "camera_porch_state_mismatch" not in _issues(issue_registry)


async def test_a_lasting_difference_is_a_problem_until_it_matches(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An agent that stays on past the command timeout: state_mismatch and a repair; cleared on match."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    await _switch_porch_off(hass, mqtt_mock)
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": True, "fps": 2.0})  # ignores HA
    await settle()
    assert hass.states.get(PROBLEM).state == "off"  # the re-assertion gets its chance first
    freezer.tick(timedelta(seconds=11.5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).attributes["problems"] == ["state_mismatch"]
    issue = issue_registry.async_get_issue(DOMAIN, "camera_porch_state_mismatch")
    assert issue is not None
    assert issue.translation_placeholders["desired"] == "enabled=False"
    assert issue.translation_placeholders["reported"] == "enabled=True"
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0})
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "off"
    assert issue_registry.async_get_issue(DOMAIN, "camera_porch_state_mismatch") is None


async def test_desired_state_survives_a_restart_of_home_assistant(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    hass_storage: dict[str, Any],
) -> None:
    """Stored per entry: after a reload the retained `on` of a restarted agent is re-asserted off."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    await _switch_porch_off(hass, mqtt_mock)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    stored = hass_storage[f"{DOMAIN}.{init_integration.entry_id}"]["data"]
    assert stored["desired"] == {"camera_porch": {"enabled": False}}
    mqtt_mock.async_publish.reset_mock()
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    announce(hass, "camera_porch")  # the agent restarted meanwhile: retained state on
    await settle()
    assert [c["enabled"] for c in _sets(mqtt_mock)] == [False]


async def test_diagnostics_show_the_desired_state_and_what_differs(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    hass_client: ClientSessionGenerator,
) -> None:
    """What the owner set, and what the agent does not show of it."""
    from pytest_homeassistant_custom_component.components.diagnostics import (
        get_diagnostics_for_config_entry,
    )

    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    await _switch_porch_off(hass, mqtt_mock)
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": True, "fps": 2.0})
    await settle()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    porch = diagnostics["agents"]["camera_porch"]
    assert porch["desired"] == {"enabled": False}
    assert porch["desired_not_reported"] == {"enabled": False}


async def test_a_refused_setting_is_not_kept_as_desired(
    hass: HomeAssistant, init_integration: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """An agent that refuses a setting (fps over its source's) is not asked for it again."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    hub = init_integration.runtime_data
    porch = hub.agents["camera_porch"]
    task = hass.async_create_background_task(hub.control.async_command(porch, fps=30.0), "fps")
    await settle()
    (command,) = _sets(mqtt_mock)
    fire(
        hass,
        "bobby/camera/porch/ack",
        {"v": 1, "id": command["id"], "ok": False, "code": "refused", "error": "no"},
    )
    with pytest.raises(CommandError):
        await task
    assert porch.desired.command_fields() == {}
    assert porch.health.mismatch == {}


async def test_deleting_the_entry_deletes_what_it_stored(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    hass_storage: dict[str, Any],
) -> None:
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    await _switch_porch_off(hass, mqtt_mock)
    await hass.config_entries.async_unload(init_integration.entry_id)
    assert f"{DOMAIN}.{init_integration.entry_id}" in hass_storage
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{init_integration.entry_id}" not in hass_storage


async def test_commands_expire_for_agents_that_take_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
) -> None:
    """`expires` = send time + command timeout, only for agents listing the capability."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    fire(
        hass,
        "bobby/camera/porch/info",
        payload("camera_porch", "info", capabilities=["fps", "preview", "expires"]),
    )
    await hass.async_block_till_done()
    hub = init_integration.runtime_data
    tasks = [
        hass.async_create_background_task(hub.control.async_set_enabled(hub.agents[key], False), "off")
        for key in ("camera_porch", "detector_pi4")
    ]
    await settle()
    (camera_command,) = _sets(mqtt_mock)
    (detector_command,) = _sets(mqtt_mock, "bobby/detector/pi4/set")
    assert camera_command["expires"] == pytest.approx(dt_util.utcnow().timestamp() + 10.0)
    assert "expires" not in detector_command  # an older agent would refuse the unknown key
    freezer.tick(timedelta(seconds=11))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    for task in tasks:
        with pytest.raises(CommandError):
            await task


async def test_a_late_ack_clears_the_timeout_it_caused(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Row 2: an agent frozen 25 s answers after the timeout: command_timeout and its repair clear."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    task = _turn_off(hass)
    await settle()
    (command,) = _sets(mqtt_mock)
    freezer.tick(timedelta(seconds=10.5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError):
        await task
    assert issue_registry.async_get_issue(DOMAIN, "camera_porch_command_timeout") is not None
    freezer.tick(timedelta(seconds=15))
    # The agent wakes up: it applies the (old-style, expiry-less) command and says so.
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0})
    _ack(hass, command["id"], enabled=False, fps=2.0)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, "camera_porch_command_timeout") is None
    assert hass.states.get(PROBLEM).state == "off"
    assert hass.states.get(SWITCH).state == "off"


async def test_a_stale_ack_clears_the_timeout_and_the_state_is_asserted_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An agent that took `expires` ignores the late command (code stale): HA sends it again."""
    announce(hass, "camera_porch")
    fire(
        hass,
        "bobby/camera/porch/info",
        payload("camera_porch", "info", capabilities=["fps", "preview", "expires"]),
    )
    await hass.async_block_till_done()
    task = _turn_off(hass)
    await settle()
    (command,) = _sets(mqtt_mock)
    freezer.tick(timedelta(seconds=10.5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError):
        await task
    fire(
        hass,
        "bobby/camera/porch/ack",
        {"v": 1, "id": command["id"], "ok": False, "code": "stale", "error": "stale command"},
    )
    await settle()
    assert issue_registry.async_get_issue(DOMAIN, "camera_porch_command_timeout") is None
    again = _sets(mqtt_mock)[1:]
    assert [c["enabled"] for c in again] == [False]
    _ack(hass, again[0]["id"], enabled=False, fps=2.0)
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).state == "off"


# --- messages can't hurt ----------------------------------------------------------------


async def test_lone_surrogate_in_a_name_harms_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """Row 3: `"bad \\ud800 name"` (valid JSON) never reaches the registries: /api/states answers."""
    assert await async_setup_component(hass, "api", {})
    announce(hass, "camera_porch")
    raw = b'{"v":1,"kind":"camera","id":"porch","version":"1","stats_interval":10,"name":"bad \\ud800 name"}'
    fire(hass, "bobby/camera/porch/info", raw, retain=True)
    fire(hass, "bobby/camera/ghost/info", raw.replace(b"porch", b"ghost"), retain=True)
    await hass.async_block_till_done()
    client = await hass_client()
    response = await client.get("/api/states")
    assert response.status == 200
    assert "porch_enabled" in await response.text()
    assert device(hass, init_integration.entry_id, "camera_porch").name == "Porch"
    assert device(hass, init_integration.entry_id, "camera_ghost") is None
    _assert_serialisable(hass)


def _assert_serialisable(hass: HomeAssistant) -> None:
    """The state machine and the registries as HA writes them (its own JSON encoder)."""
    from homeassistant.helpers.json import json_bytes

    json_bytes([state.as_dict() for state in hass.states.async_all()])
    json_bytes(dr.async_get(hass)._data_to_save())
    json_bytes(er.async_get(hass)._data_to_save())
    json_bytes([issue.to_json() for issue in ir.async_get(hass).issues.values()])


def _hostile_payloads() -> list[bytes]:
    nested = b"[" * 30000 + b"]" * 30000
    huge = b"1" + b"0" * 399
    return [
        nested,
        b'{"v":1,"x":' + nested + b"}",
        b'{"v":1,"enabled":' + huge + b"}",
        b'{"v":' + huge + b"}",
        b'{"v":1,"kind":"camera","id":"a","version":"1","stats_interval":' + huge + b"}",
        b'{"v":1,"uptime":' + huge + b',"fps":1}',
        b'{"v":1,"id":"x","ok":true,"state":{"v":1,"enabled":' + huge + b"}}",
        b"\xff\xfe" + b"x" * 1000,
        b"not json at all " * 100,
    ]


async def test_hostile_messages_on_every_topic_keep_the_log_bounded(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Row 4: 1,000 nested / 400-digit messages on every topic and id: no traceback, a bounded log
    that never holds the payload, and no agent created from them."""
    caplog.set_level(logging.DEBUG, logger="custom_components.bobby_camera")
    payloads = _hostile_payloads()
    channels = ("status", "info", "state", "ack", "stats", "detection", "snapshot", "preview")
    for n in range(1000):
        channel = channels[n % len(channels)]
        kind = "camera" if n % 2 or channel in ("detection", "snapshot", "preview") else "detector"
        fire(hass, f"bobby/{kind}/id{n}/{channel}", payloads[n % len(payloads)])
    await hass.async_block_till_done()
    ours = [r for r in caplog.records if r.name.startswith("custom_components.bobby_camera")]
    text = "\n".join(r.getMessage() for r in ours)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert len(text) < 10_000, f"{len(ours)} lines, {len(text)} characters"
    assert "[[[[" not in text, [r.name + r.getMessage()[:300] for r in ours if "[[[[" in r.getMessage()]
    assert "0000000000" not in text
    assert "not json at all not json" not in text
    hub = init_integration.runtime_data
    assert hub.invalid_messages == 1000
    assert hub.agents == {}
    assert len(hub.recent_errors) <= 10
    assert all(len(line) < 400 for line in hub.recent_errors)


async def test_a_50_mb_preview_is_refused_and_not_kept(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Row 8: snapshot/preview must be a bounded JPEG; 50 MB is refused, the last good one stays."""
    announce(hass, "camera_porch")
    fire(hass, "bobby/camera/porch/preview", JPEG, retain=True)
    await hass.async_block_till_done()
    huge = JPEG[:-2] + b"\x00" * (50 * 1024 * 1024) + b"\xff\xd9"
    fire(hass, "bobby/camera/porch/preview", huge, retain=True)
    fire(hass, "bobby/camera/porch/snapshot", huge)
    fire(hass, "bobby/camera/ghost/preview", huge, retain=True)
    await hass.async_block_till_done()
    hub = init_integration.runtime_data
    assert hub.agents["camera_porch"].preview == JPEG
    assert hub.agents["camera_porch"].snapshot is None
    assert "camera_ghost" not in hub.agents
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("custom_components"))
    assert "over the 8388608-byte limit" in ours
    assert len(ours) < 2_000


# --- device life cycle ------------------------------------------------------------------


async def _remove(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, entry_id: str, device_id: str
) -> bool:
    from .test_restart import _remove_device

    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    return await _remove_device(client, dr.async_get(hass), entry_id, device_id)


async def test_a_removed_device_stays_removed_until_the_agent_is_back_online(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    hass_ws_client: WebSocketGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Row 5: the clears' echo (retain=False) and stray messages do not bring it back; `online` does."""
    announce(hass, "camera_porch")
    fire(hass, "bobby/camera/porch/status", "offline")
    await hass.async_block_till_done()
    porch = device(hass, init_integration.entry_id, "camera_porch")
    assert await _remove(hass, hass_ws_client, init_integration.entry_id, porch.id)
    await hass.async_block_till_done()
    caplog.clear()
    # The broker echoes our clears to live subscribers with retain=False.
    for channel in ("status", "info", "state", "snapshot", "preview"):
        fire(hass, f"bobby/camera/porch/{channel}", b"", retain=False)
    # A stale publisher, a detector still reporting on it, a replayed info.
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": True, "fps": 2.0})
    fire(hass, "bobby/camera/porch/info", payload("camera_porch", "info"))
    fire(hass, "bobby/camera/porch/detection", payload("detection", ""))
    fire(hass, "bobby/camera/porch/status", "offline")
    await hass.async_block_till_done()
    assert device(hass, init_integration.entry_id, "camera_porch") is None
    assert "does not follow" not in caplog.text  # our own echo is no bad input
    # The agent itself comes back.
    _back_online(hass)
    await hass.async_block_till_done()
    assert device(hass, init_integration.entry_id, "camera_porch") is not None
    assert hass.states.get(SWITCH).state == "on"


@pytest.mark.parametrize("options", [{"max_agents": 3}])
async def test_new_agents_are_capped_with_one_repair(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """Row 7: a flood of made-up ids fills nothing: the cap holds and ONE repair says so."""
    for n in range(50):
        fire(hass, f"bobby/camera/cam{n}/status", "online", retain=True)
        fire(hass, f"bobby/camera/cam{n}/detection", payload("detection", "", camera=f"cam{n}"))
    await hass.async_block_till_done()
    hub = init_integration.runtime_data
    assert len(hub.agents) == 3
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), init_integration.entry_id)
    assert len(devices) == 4  # the hub and three agents
    assert _issues(issue_registry) == {"agent_limit"}
    assert issue_registry.async_get_issue(DOMAIN, "agent_limit").translation_placeholders["limit"] == "3"
    # Known agents still work.
    fire(hass, "bobby/camera/cam0/state", {"v": 1, "enabled": True})
    await hass.async_block_till_done()


async def test_retained_garbage_after_a_restart_keeps_the_last_good_state(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Row 6: garbage retained on a known camera's info, then an HA restart: entities keep their
    last valid state and stay available (they were unavailable until the agent reconnected)."""
    announce(hass, "camera_porch")
    fire(hass, "bobby/camera/porch/state", {"v": 1, "enabled": False, "fps": 2.0})
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).state == "off"
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    # What the broker holds now: garbage on info and state, a valid online status.
    fire(hass, "bobby/camera/porch/status", "online", retain=True)
    fire(hass, "bobby/camera/porch/info", b'{"v":1,"kind":"camera","id":"porch"', retain=True)
    fire(hass, "bobby/camera/porch/state", b"[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]", retain=True)
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).state == "off"
    assert hass.states.get("binary_sensor.porch_connectivity").state == "on"
    assert hass.states.get(PROBLEM).state == "off"
    assert device(hass, init_integration.entry_id, "camera_porch").name == "Porch"


@pytest.mark.parametrize("options", [{"max_agents": 64}])
async def test_disarm_all_with_many_unanswering_agents_raises_one_summary_problem(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Row 7 (disarm-all): 60 agents, none answers: the hub switch fails after one timeout and
    raises ONE summary repair, not one per agent (nor a state_mismatch each later)."""
    for n in range(60):
        info = {**payload("camera_porch", "info"), "id": f"cam{n}", "name": f"Cam {n}"}
        fire(hass, f"bobby/camera/cam{n}/status", "online", retain=True)
        fire(hass, f"bobby/camera/cam{n}/info", info, retain=True)
        fire(hass, f"bobby/camera/cam{n}/state", {"v": 1, "enabled": True}, retain=True)
    await hass.async_block_till_done()
    task = _turn_off(hass, HUB_SWITCH)
    await settle()
    assert len([c for c in mqtt_mock.async_publish.call_args_list if c.args[0].endswith("/set")]) == 60
    freezer.tick(timedelta(seconds=10.5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError, match="60 of 60"):
        await task
    assert _issues(issue_registry) == {"command_all_failed"}
    freezer.tick(timedelta(seconds=5))  # past the mismatch deadline, before their heartbeats are due
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert _issues(issue_registry) == {"command_all_failed"}
    # They come round: each reports off, and the summary clears by itself.
    for n in range(60):
        fire(hass, f"bobby/camera/cam{n}/state", {"v": 1, "enabled": False})
    await hass.async_block_till_done()
    assert _issues(issue_registry) == set()


# --- recovery ---------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{"offline_grace": 30.0}])
async def test_offline_becomes_a_repair_only_after_the_grace_period(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A Wi-Fi blip pages nobody; connectivity changes at once; 30 s offline is a repair."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    fire(hass, "bobby/camera/porch/status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_connectivity").state == "off"
    assert hass.states.get(PROBLEM).state == "off"
    freezer.tick(timedelta(seconds=10))
    _back_online(hass)  # back after 10 s
    fire(hass, "bobby/camera/porch/status", "offline")
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=29))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, "camera_porch_offline") is None
    freezer.tick(timedelta(seconds=1.5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, "camera_porch_offline") is not None
    assert hass.states.get(PROBLEM).attributes["problems"] == ["offline"]


async def test_an_agent_that_never_announces_its_heartbeat_is_still_reported_silent(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A bounded time: `online` and then nothing is `silent` after three default intervals."""
    fire(hass, "bobby/detector/mute/status", "online", retain=True)
    await hass.async_block_till_done()
    agent = init_integration.runtime_data.agents["detector_mute"]
    freezer.tick(timedelta(seconds=181))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert agent.problems == ("silent",)


async def test_a_detector_refused_by_the_broker_is_a_problem_naming_what_it_may_not_do(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """The agent reports a PUBACK refusal in its stats: a problem and a repair that says so."""
    announce(hass, "detector_pi4")
    refused = {
        "code": "not_authorised_publish_detection",
        "count": 17,
        "topic": "bobby/camera/+/detection",
        "detail": "the broker refused to let this agent publish bobby/camera/porch/detection",
    }
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats", problems=[refused]))
    await hass.async_block_till_done()
    problem = hass.states.get("binary_sensor.pi_4_detector_problem")
    assert problem.state == "on"
    assert problem.attributes["problems"] == ["not_authorised_publish_detection"]
    issue = issue_registry.async_get_issue(DOMAIN, "detector_pi4_not_authorised_publish_detection")
    assert issue is not None
    assert issue.translation_key == "not_authorised_publish"
    assert issue.translation_placeholders["channel"] == "detection"
    assert issue.translation_placeholders["agent_topic"] == "bobby/camera/+/detection"
    from .test_translations import _issue_title

    assert _issue_title(issue) == "Pi 4 detector: not authorised to publish detection messages"
    fire(hass, "bobby/detector/pi4/stats", payload("detector_pi4", "stats", problems=[]))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.pi_4_detector_problem").state == "off"
    assert issue_registry.async_get_issue(DOMAIN, "detector_pi4_not_authorised_publish_detection") is None
