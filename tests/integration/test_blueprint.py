"""The shipped automation blueprint (blueprints/automation/bobby_camera/person_notify.yaml).

Validated by Home Assistant's own blueprint schema, and run in a real Home Assistant: the
file is copied into the config folder's blueprints, an automation uses it, and the person
sensor of a Bobby camera (fed through MQTT) sends the notification. The notify action is
a mock service: its real targets are phones.
"""

from __future__ import annotations

import shutil
import urllib.parse
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
from homeassistant.util import yaml as yaml_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from .common import announce, detection, device, fire

REPO = Path(__file__).resolve().parents[2]
BLUEPRINT = REPO / "blueprints" / "automation" / "bobby_camera" / "person_notify.yaml"
NOTIFY = "mobile_app_x"


def _load() -> Blueprint:
    return Blueprint(
        yaml_util.load_yaml_dict(BLUEPRINT), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )


def test_blueprint_is_valid() -> None:
    """HA's blueprint schema accepts it; the inputs are the ones the README documents."""
    blueprint = _load()
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {"person_sensor", "snapshot_camera", "notify_action", "armed_entity"}
    # Optional inputs have defaults, required ones do not.
    assert {k for k, v in blueprint.inputs.items() if v and "default" in v} == {
        "notify_action",
        "armed_entity",
    }


def test_blueprint_is_importable_from_the_repository() -> None:
    """Its source_url is a GitHub file URL that HA's importer turns into this file's raw URL,
    and the README's import button links to it."""
    source_url = _load().metadata["source_url"]
    raw = importer._get_github_import_url(source_url)
    assert raw.endswith("/main/" + str(BLUEPRINT.relative_to(REPO)))
    readme = (REPO / "README.md").read_text()
    link = "https://my.home-assistant.io/redirect/blueprint_import/?blueprint_url="
    assert link + urllib.parse.quote(source_url, safe="") in readme


@pytest.fixture
async def notify_calls(hass: HomeAssistant, tmp_path: Path) -> list[ServiceCall]:
    """The blueprint in a fresh config folder, the mock notify action, an armed toggle."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "bobby_camera" / BLUEPRINT.name
    target.parent.mkdir(parents=True)
    shutil.copy(BLUEPRINT, target)
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"armed": {"initial": True}}})
    return async_mock_service(hass, "notify", NOTIFY)


async def _automation(hass: HomeAssistant, entry: MockConfigEntry, **inputs: Any) -> dict[str, str]:
    """The porch camera's entities, and an automation from the blueprint on them."""
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    entities = {
        key: registry.async_get_entity_id(domain, "bobby_camera", f"camera_porch_{key}")
        for domain, key in (("binary_sensor", "person"), ("camera", "snapshot"))
    }
    assert all(entities.values()), entities
    config = {
        "automation": [
            {
                "alias": "Person at the porch",
                "use_blueprint": {
                    "path": "bobby_camera/person_notify.yaml",
                    "input": {
                        "person_sensor": entities["person"],
                        "snapshot_camera": entities["snapshot"],
                        "notify_action": f"notify.{NOTIFY}",
                        **inputs,
                    },
                },
            }
        ]
    }
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    state = hass.states.get("automation.person_at_the_porch")
    assert state is not None
    assert state.state == "on", state  # "unavailable" when the blueprint does not load
    return {"person": str(entities["person"]), "snapshot": str(entities["snapshot"])}


async def _toggle(hass: HomeAssistant, action: str) -> None:
    await hass.services.async_call(
        "input_boolean", action, {"entity_id": "input_boolean.armed"}, blocking=True
    )


async def _person(hass: HomeAssistant) -> None:
    fire(hass, "bobby/camera/porch/detection", detection())
    await hass.async_block_till_done()


async def test_person_sends_the_snapshot(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    """No armed entity: the person sensor turning on sends the picture, once."""
    entities = await _automation(hass, init_integration)
    await _person(hass)
    assert hass.states.get(entities["person"]).state == "on"
    [call] = notify_calls
    assert call.data["title"] == "Person at Porch"
    assert call.data["data"] == {
        "image": f"/api/camera_proxy/{entities['snapshot']}",
        "tag": f"bobby-camera-{entities['person']}",
    }
    # More detections while the sensor stays on: no more notifications.
    await _person(hass)
    assert len(notify_calls) == 1


async def test_armed_toggle(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    notify_calls: list[ServiceCall],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Off: nothing is sent; on: the notification goes out."""
    entities = await _automation(hass, init_integration, armed_entity="input_boolean.armed")
    await _toggle(hass, "turn_off")
    await _person(hass)
    assert hass.states.get(entities["person"]).state == "on"
    assert notify_calls == []

    # The sensor clears (30 s without a detection); armed again, the next person is reported.
    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(entities["person"]).state == "off"
    await _toggle(hass, "turn_on")
    await _person(hass)
    assert len(notify_calls) == 1


@pytest.mark.usefixtures("mqtt_mock", "media_dir")
@pytest.mark.parametrize(("arm", "sent"), [("alarm_arm_away", 1), ("alarm_disarm", 0)])
async def test_alarm_panel(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    notify_calls: list[ServiceCall],
    arm: str,
    sent: int,
) -> None:
    """An alarm panel counts as armed in any armed_* state, not when disarmed."""
    # Before Bobby Camera: its own alarm panel sets up the alarm_control_panel component,
    # and this configuration would not be read after it.
    assert await async_setup_component(
        hass,
        "alarm_control_panel",
        {
            "alarm_control_panel": {
                "platform": "manual",
                "name": "Home",
                "arming_time": 0,
                "delay_time": 0,
                "code_arm_required": False,
            }
        },
    )
    await hass.async_block_till_done()
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call(
        "alarm_control_panel", arm, {"entity_id": "alarm_control_panel.home"}, blocking=True
    )
    await _automation(hass, mock_config_entry, armed_entity="alarm_control_panel.home")
    await _person(hass)
    assert len(notify_calls) == sent


async def test_clip_ready_links_the_clip(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    """`bobby_camera_clip_ready` for this camera: a notification that opens the clip, with
    the same tag (it replaces the picture-only one); other cameras' clips are ignored."""
    entities = await _automation(hass, init_integration)
    porch = device(hass, init_integration.entry_id, "camera_porch").id
    url = "/api/bobby_camera/clips/porch/2026-11-25/ev1.mp4?authSig=x"

    hass.bus.async_fire("bobby_camera_clip_ready", {"device_id": "another-camera", "url": url})
    hass.bus.async_fire("bobby_camera_clip_ready", {"device_id": porch})  # no link
    await hass.async_block_till_done()
    assert notify_calls == []

    hass.bus.async_fire("bobby_camera_clip_ready", {"device_id": porch, "url": url, "media_content_id": "x"})
    await hass.async_block_till_done()
    [call] = notify_calls
    assert call.data["message"] == "The clip is ready: tap to watch it."
    assert call.data["data"]["image"] == f"/api/camera_proxy/{entities['snapshot']}"
    assert call.data["data"]["tag"] == f"bobby-camera-{entities['person']}"
    assert call.data["data"]["url"] == call.data["data"]["clickAction"] == url
    assert call.data["data"]["actions"] == [{"action": "URI", "title": "Watch the clip", "uri": url}]


async def test_clip_is_not_sent_while_disarmed(
    hass: HomeAssistant, init_integration: MockConfigEntry, notify_calls: list[ServiceCall]
) -> None:
    await _automation(hass, init_integration, armed_entity="input_boolean.armed")
    await _toggle(hass, "turn_off")
    porch = device(hass, init_integration.entry_id, "camera_porch").id
    hass.bus.async_fire("bobby_camera_clip_ready", {"device_id": porch, "url": "/clip.mp4"})
    await hass.async_block_till_done()
    assert notify_calls == []
