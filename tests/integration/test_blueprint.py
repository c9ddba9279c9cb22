"""The shipped automation blueprints (blueprints/automation/bobby_camera/).

Validated by Home Assistant's own blueprint schema, and run in a real Home Assistant: the
files are copied into the config folder's blueprints, automations use them, and the
events the integration fires (a person seen, a clip ready, a problem, a gap in coverage)
send notifications. The notify action is a mock service: its real targets are phones.
Person events come from the integration itself (a detection over MQTT) where that is the
point, and are fired on the bus with the fields under test (such as `zones`) elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import importer
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util import yaml as yaml_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from .common import announce, detection, device, fire, payload, settle

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "blueprints" / "automation" / "bobby_camera"
PERSON = FOLDER / "person_notify.yaml"
PROBLEM = FOLDER / "problem_notify.yaml"
NOTIFY = "mobile_app_x"
PAUSED = "datetime.porch_notifications_paused_until"
RING = {
    "push": {"sound": {"name": "default", "critical": 1, "volume": 1.0}},
    "channel": "alarm_stream",
    "priority": "high",
    "ttl": 0,
}


def _load(path: Path) -> Blueprint:
    return Blueprint(
        yaml_util.load_yaml_dict(path), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )


def test_blueprints_are_valid() -> None:
    """HA's blueprint schema accepts them; the inputs are the ones the docs describe, and
    only the cameras are required."""
    person = _load(PERSON)
    assert set(person.inputs) == {
        "person_sensor",
        "snapshot_camera",
        "zones",
        "notify_action",
        "clip_wait",
        "cooldown",
        "pause_minutes",
        "critical",
        "armed_entity",
        "away_entities",
        "after_time",
        "before_time",
        "state_entity",
        "state_values",
    }
    assert {k for k, v in person.inputs.items() if not (v and "default" in v)} == {"person_sensor"}
    problem = _load(PROBLEM)
    assert {k for k, v in problem.inputs.items() if not (v and "default" in v)} == set()
    docs = (REPO / "docs" / "home-assistant.md").read_text()
    for blueprint in (person, problem):
        for key, spec in blueprint.inputs.items():
            assert f"**{spec['name']}**" in docs, key


@pytest.mark.parametrize("path", [PERSON, PROBLEM])
def test_blueprints_are_importable_from_the_repository(path: Path) -> None:
    """Each source_url is a GitHub file URL that HA's importer turns into this file's raw
    URL, and the docs' import button links to it."""
    source_url = _load(path).metadata["source_url"]
    raw = importer._get_github_import_url(source_url)
    assert raw.endswith("/main/" + str(path.relative_to(REPO)))
    link = "https://my.home-assistant.io/redirect/blueprint_import/?blueprint_url="
    assert link + urllib.parse.quote(source_url, safe="") in (REPO / "docs" / "home-assistant.md").read_text()
    if path == PERSON:
        assert link + urllib.parse.quote(source_url, safe="") in (REPO / "README.md").read_text()


@pytest.fixture(autouse=True)
def no_automation_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A template or action error only shows in the log, and would make a "not sent"
    assertion pass for the wrong reason: every test fails on one."""
    yield
    errors = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING
        and r.name.startswith(("homeassistant.components.automation", "homeassistant.helpers"))
    ]
    assert not errors, errors


@pytest.fixture
async def notify_calls(hass: HomeAssistant, tmp_path: Path) -> list[ServiceCall]:
    """The blueprints in a fresh config folder, the mock notify action, an armed toggle."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "bobby_camera"
    target.mkdir(parents=True)
    for path in (PERSON, PROBLEM):
        shutil.copy(path, target / path.name)
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"armed": {"initial": True}}})
    return async_mock_service(hass, "notify", NOTIFY)


def _entity(hass: HomeAssistant, domain: str, unique_id: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(domain, "bobby_camera", unique_id)
    assert entity_id, unique_id
    return entity_id


async def _automations(hass: HomeAssistant, *configs: tuple[str, dict[str, Any]]) -> None:
    """Automations from the blueprints: (file name, inputs) each; all must load."""
    automations = [
        {
            "alias": f"Blueprint {n}",
            "use_blueprint": {
                "path": f"bobby_camera/{name}",
                "input": {"notify_action": f"notify.{NOTIFY}", **inputs},
            },
        }
        for n, (name, inputs) in enumerate(configs)
    ]
    assert await async_setup_component(hass, "automation", {"automation": automations})
    await hass.async_block_till_done()
    for n in range(len(configs)):
        state = hass.states.get(f"automation.blueprint_{n}")
        assert state is not None
        assert state.state == "on", state  # "unavailable" when the blueprint does not load


async def _person_automation(hass: HomeAssistant, **inputs: Any) -> dict[str, str]:
    """The porch camera's entities, and an automation from the person blueprint on them."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    entities = {
        "person": _entity(hass, "binary_sensor", "camera_porch_person"),
        "snapshot": _entity(hass, "camera", "camera_porch_snapshot"),
    }
    await _automations(hass, ("person_notify.yaml", {"person_sensor": [entities["person"]], **inputs}))
    return entities


def _porch(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    return str(device(hass, entry.entry_id, "camera_porch").id)


async def _idle(hass: HomeAssistant, waiting: int = 0) -> None:
    """Every automation run is over but `waiting` (runs waiting for a clip, which
    async_block_till_done would wait for)."""
    await settle()
    deadline = time.monotonic() + 30
    while sum(s.attributes.get("current", 0) for s in hass.states.async_all("automation")) != waiting:
        assert time.monotonic() < deadline, "the automation runs did not end"
        await asyncio.sleep(0.01)
    await settle()


async def _seen(hass: HomeAssistant, device_id: str, *, waiting: int = 0, **data: Any) -> None:
    """The person event as the integration fires it, with extra fields (zones)."""
    hass.bus.async_fire(
        "bobby_camera_person_detected", {"device_id": device_id, "camera": "porch", "name": "Porch", **data}
    )
    await _idle(hass, waiting)


async def _clip(
    hass: HomeAssistant,
    device_id: str,
    url: str | None = "/api/bobby_camera/clips/porch/ev1.mp4",
    *,
    waiting: int = 0,
) -> None:
    hass.bus.async_fire("bobby_camera_clip_ready", {"device_id": device_id, "camera": "porch", "url": url})
    await _idle(hass, waiting)


async def _person(hass: HomeAssistant, *, waiting: int = 1) -> None:
    """A detection on the porch camera over MQTT: the integration fires the person event."""
    fire(hass, "bobby/camera/porch/detection", detection())
    await _idle(hass, waiting)


async def _pass(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: float) -> None:
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


# --- the person blueprint -----------------------------------------------------------------


async def test_picture_then_clip_in_place(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    """A detection over MQTT sends the picture with a Pause button; the clip of that camera
    then updates the same notification (same tag), quietly; other cameras' clips and a
    clip event without a link do not."""
    entities = await _person_automation(hass)
    porch = _porch(hass, init_integration)
    await _person(hass)
    assert hass.states.get(entities["person"]).state == "on"
    [picture] = notify_calls
    assert picture.data["title"] == "Person at Porch"
    tag = picture.data["data"]["tag"]
    assert tag.startswith("bobby-camera-porch-")
    assert picture.data["data"] == {
        "tag": tag,
        "alert_once": True,
        "image": f"/api/camera_proxy/{entities['snapshot']}",
        "actions": [{"action": f"BOBBY_CAMERA_PAUSE_{porch}", "title": "Pause Porch 30 min"}],
    }
    # More detections while the sensor stays on: no more person events, no notifications.
    await _person(hass)
    assert len(notify_calls) == 1

    await _clip(hass, "another-camera", waiting=1)
    await _clip(hass, porch, url=None)  # this camera's clip, but no link: the run ends
    assert len(notify_calls) == 1


async def test_clip_replaces_the_picture(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    await _person_automation(hass)
    porch = _porch(hass, init_integration)
    await _seen(hass, porch, waiting=1)
    url = "/api/bobby_camera/clips/porch/2026-11-25/ev1.mp4?authSig=x"
    await _clip(hass, "another-camera", url, waiting=1)
    await _clip(hass, porch, url)
    picture, clip = notify_calls
    assert clip.data["message"] == "The clip is ready: tap to watch it."
    assert clip.data["data"]["tag"] == picture.data["data"]["tag"]
    assert clip.data["data"]["image"] == picture.data["data"]["image"]
    assert clip.data["data"]["url"] == clip.data["data"]["clickAction"] == url
    assert clip.data["data"]["push"] == {"sound": "none"}  # the update does not ring again
    assert clip.data["data"]["actions"] == [
        {"action": "URI", "title": "Watch the clip", "uri": url},
        *picture.data["data"]["actions"],
    ]
    # Its run is over: a later clip changes nothing.
    await _clip(hass, porch, url)
    assert len(notify_calls) == 2


async def test_each_event_its_own_notification(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Without a cooldown, two events are two notifications with two tags; no clip wait."""
    await _person_automation(hass, cooldown=0, clip_wait=0, pause_minutes=0)
    porch = _porch(hass, init_integration)
    await _seen(hass, porch)
    await _seen(hass, porch)
    first, second = notify_calls
    assert first.data["data"]["tag"] != second.data["data"]["tag"]
    assert first.data["data"]["actions"] == []  # no Pause button
    assert hass.states.get(PAUSED).state == "unknown"  # no cooldown kept
    await _clip(hass, porch)
    assert len(notify_calls) == 2


async def test_clip_wait_runs_out(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    freezer: FrozenDateTimeFactory,
) -> None:
    await _person_automation(hass, clip_wait=2)
    porch = _porch(hass, init_integration)
    await _seen(hass, porch, waiting=1)
    await _pass(hass, freezer, 3)
    await _clip(hass, porch)
    assert len(notify_calls) == 1


async def test_cooldown_per_camera(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A second event of the same camera within the cooldown is not sent; another camera's
    is; after the cooldown the camera is reported again. The time shows on the camera."""
    for channel in ("status", "info", "state"):
        data = payload("camera_porch", channel)
        if channel == "info":
            data.update(id="garden", name="Garden")
        fire(hass, f"bobby/camera/garden/{channel}", data)
    await hass.async_block_till_done()
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    sensors = [_entity(hass, "binary_sensor", f"camera_{name}_person") for name in ("porch", "garden")]
    await _automations(
        hass, ("person_notify.yaml", {"person_sensor": sensors, "cooldown": 5, "clip_wait": 0})
    )
    porch = _porch(hass, init_integration)
    garden = str(device(hass, init_integration.entry_id, "camera_garden").id)

    await _seen(hass, porch)
    assert len(notify_calls) == 1
    paused = dt_util.parse_datetime(hass.states.get(PAUSED).state)
    assert paused is not None
    assert timedelta(minutes=4) < paused - dt_util.utcnow() <= timedelta(minutes=5)
    await _pass(hass, freezer, 2)
    await _seen(hass, porch)
    assert len(notify_calls) == 1
    await _seen(hass, garden)
    assert [c.data["title"] for c in notify_calls] == ["Person at Porch", "Person at Garden"]
    await _pass(hass, freezer, 3.5)
    await _seen(hass, porch)
    assert len(notify_calls) == 3


async def test_cooldown_does_not_hide_the_event_from_another_automation(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    """Two automations on one camera (two phones): both report the event that started the
    cooldown, neither the next one."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    sensor = _entity(hass, "binary_sensor", "camera_porch_person")
    inputs = {"person_sensor": sensor, "clip_wait": 0}  # a single id, as version 1 stored it
    await _automations(hass, ("person_notify.yaml", inputs), ("person_notify.yaml", inputs))
    porch = _porch(hass, init_integration)
    await _seen(hass, porch)
    assert len(notify_calls) == 2
    await _seen(hass, porch)
    assert len(notify_calls) == 2


async def test_pause_button(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The notification's Pause button (the Companion App's action event) pauses that
    camera for the chosen time; other buttons are not ours."""
    await _person_automation(hass, cooldown=0, clip_wait=0, pause_minutes=45)
    porch = _porch(hass, init_integration)
    await _seen(hass, porch)
    [call] = notify_calls
    [button] = call.data["data"]["actions"]
    assert button["title"] == "Pause Porch 45 min"

    hass.bus.async_fire("mobile_app_notification_action", {"action": "SOMETHING_ELSE"})
    hass.bus.async_fire("mobile_app_notification_action", {"action": "BOBBY_CAMERA_PAUSE_another-camera"})
    await hass.async_block_till_done()
    assert hass.states.get(PAUSED).state == "unknown"

    hass.bus.async_fire("mobile_app_notification_action", {"action": button["action"]})
    await hass.async_block_till_done()
    await _seen(hass, porch)
    assert len(notify_calls) == 1
    await _pass(hass, freezer, 44)
    await _seen(hass, porch)
    assert len(notify_calls) == 1
    await _pass(hass, freezer, 2)
    await _seen(hass, porch)
    assert len(notify_calls) == 2


async def test_without_the_paused_until_entity(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A camera without the entity (an integration older than the blueprint): notified
    every time, and its Pause button does nothing rather than fail."""
    await _person_automation(hass, clip_wait=0)
    er.async_get(hass).async_remove(PAUSED)
    await hass.async_block_till_done()
    porch = _porch(hass, init_integration)
    await _seen(hass, porch)
    await _seen(hass, porch)
    assert len(notify_calls) == 2
    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": notify_calls[0].data["data"]["actions"][0]["action"]}
    )
    await _idle(hass)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    await _seen(hass, porch)
    assert len(notify_calls) == 3


@pytest.mark.parametrize(
    ("wanted", "seen", "sent"),
    [([], [], 1), (["door"], ["drive", "door"], 1), (["door"], ["drive"], 0), (["door"], None, 0)],
)
async def test_zone_filter(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    *,
    wanted: list[str],
    seen: list[str] | None,
    sent: int,
) -> None:
    """Only a person in one of the chosen zones (none chosen: anywhere)."""
    await _person_automation(hass, zones=wanted, clip_wait=0)
    await _seen(hass, _porch(hass, init_integration), **({} if seen is None else {"zones": seen}))
    assert len(notify_calls) == sent


async def test_armed_toggle(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    """Off: nothing is sent; on: the notification goes out."""
    await _person_automation(hass, armed_entity="input_boolean.armed", clip_wait=0, cooldown=0)
    porch = _porch(hass, init_integration)
    await hass.services.async_call(
        "input_boolean", "turn_off", {"entity_id": "input_boolean.armed"}, blocking=True
    )
    await _seen(hass, porch)
    assert notify_calls == []
    await hass.services.async_call(
        "input_boolean", "turn_on", {"entity_id": "input_boolean.armed"}, blocking=True
    )
    await _seen(hass, porch)
    assert len(notify_calls) == 1


@pytest.mark.parametrize(
    ("state", "sent"), [("armed_away", 1), ("triggered", 1), ("arming", 0), ("disarmed", 0)]
)
async def test_alarm_panel(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    state: str,
    sent: int,
) -> None:
    """An alarm panel counts as armed in any armed_* state and when triggered; not while
    still arming (not verified) nor disarmed."""
    hass.states.async_set("alarm_control_panel.house", state)  # a panel of another integration
    await _person_automation(hass, armed_entity="alarm_control_panel.house", clip_wait=0)
    await _seen(hass, _porch(hass, init_integration))
    assert len(notify_calls) == sent


@pytest.mark.parametrize(
    ("states", "sent"),
    [
        ({"zone.home": "0"}, 1),
        ({"zone.home": "2"}, 0),
        ({"person.ann": "not_home", "group.family": "not_home"}, 1),
        ({"person.ann": "not_home", "group.family": "home"}, 0),
        ({"person.ann": "home"}, 0),
    ],
)
async def test_only_when_nobody_is_home(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    states: dict[str, str],
    sent: int,
) -> None:
    for entity_id, value in states.items():
        hass.states.async_set(entity_id, value)
    await _person_automation(hass, away_entities=list(states), clip_wait=0)
    await _seen(hass, _porch(hass, init_integration))
    assert len(notify_calls) == sent


@pytest.mark.parametrize(
    ("after", "before", "clock", "sent"),
    [
        ("22:00:00", "06:00:00", "23:30:00", 1),  # past midnight
        ("22:00:00", "06:00:00", "05:59:00", 1),
        ("22:00:00", "06:00:00", "12:00:00", 0),
        ("08:00:00", "18:00:00", "12:00:00", 1),
        ("08:00:00", "18:00:00", "18:00:00", 0),
        ("08:00:00", "", "07:00:00", 0),  # only a start
        ("", "08:00:00", "07:00:00", 1),  # only an end
    ],
)
async def test_time_window(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    *,
    freezer: FrozenDateTimeFactory,
    after: str,
    before: str,
    clock: str,
    sent: int,
) -> None:
    hour, minute, _ = (int(x) for x in clock.split(":"))
    freezer.move_to(dt_util.now().replace(hour=hour, minute=minute, second=0, microsecond=0))
    await _person_automation(hass, after_time=after, before_time=before, clip_wait=0)
    await _seen(hass, _porch(hass, init_integration))
    assert len(notify_calls) == sent


@pytest.mark.parametrize(("state", "sent"), [("on", 1), ("playing", 1), ("off", 0)])
async def test_entity_state(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    state: str,
    sent: int,
) -> None:
    """Any entity, in one of the chosen states."""
    hass.states.async_set("media_player.tv", state)
    await _person_automation(
        hass, state_entity="media_player.tv", state_values=["on", "playing"], clip_wait=0
    )
    await _seen(hass, _porch(hass, init_integration))
    assert len(notify_calls) == sent


async def test_critical_alert_for_ios_and_android(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    """The Companion App's documented payloads: iOS critical sound, Android alarm stream with
    high priority and no delay; the clip update does not ring again."""
    await _person_automation(hass, critical=True)
    porch = _porch(hass, init_integration)
    await _seen(hass, porch, waiting=1)
    await _clip(hass, porch)
    picture, clip = notify_calls
    assert {k: picture.data["data"][k] for k in RING} == RING
    assert clip.data["data"]["push"] == {"sound": "none"}
    assert not {"channel", "priority", "ttl"} & set(clip.data["data"])


async def test_chosen_picture_entity(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    """A picture entity chosen for the camera is the one the notification shows."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    preview = _entity(hass, "camera", "camera_porch_preview")
    await _person_automation(hass, snapshot_camera=preview, clip_wait=0)  # one id, as version 1 stored it
    await _seen(hass, _porch(hass, init_integration))
    assert notify_calls[0].data["data"]["image"] == f"/api/camera_proxy/{preview}"


async def test_other_devices_are_ignored(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    await _person_automation(hass)
    await _seen(hass, "another-camera")
    assert notify_calls == []


# --- the problem blueprint ----------------------------------------------------------------


def _problem(
    hass: HomeAssistant, problem: str, *, active: bool = True, kind: str = "camera", agent: str = "porch"
) -> None:
    """`bobby_camera_agent_problem` as problems.py fires it."""
    hass.bus.async_fire(
        "bobby_camera_agent_problem",
        {
            "device_id": "dev",
            "kind": kind,
            "agent_id": agent,
            "name": agent.capitalize(),
            "problem": problem,
            "active": active,
            "problems": [problem] if active else [],
        },
    )


@pytest.mark.parametrize(
    ("problem", "kind", "title", "message"),
    [
        ("covered", "camera", "Camera tampered", "Porch is covered: it cannot see people."),
        ("defocused", "camera", "Camera tampered", "Porch is out of focus: it cannot see people."),
        ("turned_away", "camera", "Camera tampered", "Porch is turned away: it cannot see people."),
        (
            "blind",
            "detector",
            "Detector blind",
            "Porch failed its self-test: it does not find people any more.",
        ),
        ("offline", "camera", "Agent offline", "Porch is offline."),
        ("silent", "detector", "Agent silent", "Porch is silent."),
    ],
)
async def test_problem_raised_and_cleared(
    hass: HomeAssistant, notify_calls: list[ServiceCall], *, problem: str, kind: str, title: str, message: str
) -> None:
    """Each problem kind has its notification (tagged per agent and problem), which leaves
    the phone when the problem clears."""
    await _automations(hass, ("problem_notify.yaml", {"critical": True}))
    _problem(hass, problem, kind=kind)
    await hass.async_block_till_done()
    [call] = notify_calls
    assert (call.data["title"], call.data["message"]) == (title, message)
    tag = call.data["data"]["tag"]
    assert call.data["data"] == {"tag": tag, **RING}
    _problem(hass, problem, kind=kind, active=False)
    await hass.async_block_till_done()
    assert notify_calls[1].data == {"message": "clear_notification", "data": {"tag": tag}}


async def test_problem_kinds_can_be_left_out(hass: HomeAssistant, notify_calls: list[ServiceCall]) -> None:
    """Only the chosen kinds; problems the blueprint has no wording for are not sent."""
    await _automations(hass, ("problem_notify.yaml", {"kinds": ["blind"]}))
    for problem in ("covered", "offline", "command_timeout"):
        _problem(hass, problem)
    await hass.async_block_till_done()
    assert notify_calls == []
    _problem(hass, "blind", kind="detector")
    await hass.async_block_till_done()
    assert [c.data["title"] for c in notify_calls] == ["Detector blind"]
    assert notify_calls[0].data["data"] == {"tag": notify_calls[0].data["data"]["tag"]}  # not critical


async def test_coverage_gap(hass: HomeAssistant, notify_calls: list[ServiceCall]) -> None:
    """A gap at least as long as the chosen minutes is reported, with its cause and times;
    a shorter one is not."""
    await _automations(hass, ("problem_notify.yaml", {"unwatched_minutes": 5}))
    start = dt_util.parse_datetime("2026-12-02T01:00:00+00:00")
    assert start is not None

    def gap(seconds: float) -> None:
        hass.bus.async_fire(
            "bobby_camera_coverage_gap",
            {
                "camera": "porch",
                "device_id": "dev",
                "start": start.isoformat(),
                "end": (start + timedelta(seconds=seconds)).isoformat(),
                "seconds": seconds,
                "cause": "no_detector",
            },
        )

    gap(299)
    await hass.async_block_till_done()
    assert notify_calls == []
    gap(720)
    await hass.async_block_till_done()
    [call] = notify_calls
    local = dt_util.as_local(start)
    end = dt_util.as_local(start + timedelta(seconds=720))
    assert call.data["title"] == "Camera not watched"
    assert call.data["message"] == (
        f"porch was not watched for 12 min (no detector), from {local:%H:%M} to {end:%H:%M}."
    )


async def test_armed_but_not_verified(
    hass: HomeAssistant, notify_calls: list[ServiceCall], freezer: FrozenDateTimeFactory
) -> None:
    """The hub's panel still arming after the chosen minutes is reported; reaching armed
    takes the notification away. A short arming is not reported."""
    panel = "alarm_control_panel.bobby_camera"
    hass.states.async_set(panel, "disarmed", {"friendly_name": "Bobby Camera"})
    await _automations(hass, ("problem_notify.yaml", {"alarm_panel": panel, "arming_minutes": 2}))
    hass.states.async_set(panel, "arming", {"friendly_name": "Bobby Camera"})
    await hass.async_block_till_done()  # the trigger's 2-minute timer starts
    await _pass(hass, freezer, 1)
    hass.states.async_set(panel, "armed_away", {"friendly_name": "Bobby Camera"})
    await hass.async_block_till_done()
    assert [c.data["message"] for c in notify_calls] == ["clear_notification"]

    hass.states.async_set(panel, "arming", {"friendly_name": "Bobby Camera"})
    await hass.async_block_till_done()
    await _pass(hass, freezer, 2.5)
    call = notify_calls[-1]
    assert call.data["title"] == "Armed but not verified"
    assert call.data["message"] == (
        "Bobby Camera has been arming for 2 min: "
        "a camera is not watched or a detector is not verified (see Repairs)."
    )
    hass.states.async_set(panel, "armed_away", {"friendly_name": "Bobby Camera"})
    await hass.async_block_till_done()
    assert notify_calls[-1].data == {
        "message": "clear_notification",
        "data": {"tag": call.data["data"]["tag"]},
    }


async def test_problem_blueprint_without_a_panel(
    hass: HomeAssistant, notify_calls: list[ServiceCall]
) -> None:
    """The panel is optional: the automation loads and other panels do not trigger it."""
    await _automations(hass, ("problem_notify.yaml", {}))
    hass.states.async_set("alarm_control_panel.other", "arming")
    await hass.async_block_till_done()
    assert notify_calls == []
