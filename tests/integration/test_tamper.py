"""A camera's tamper problems (covered, defocused, turned_away) in its stats become a problem,
a translated repair and a `bobby_camera_agent_problem` event, and clear with the stats."""

from __future__ import annotations

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.bobby_camera import protocol
from custom_components.bobby_camera.const import DOMAIN, EVENT_AGENT_PROBLEM

from .common import announce, fire, payload
from .test_translations import EN

PROBLEM = "binary_sensor.porch_problem"
DETAILS = {
    protocol.COVERED: "the picture is dark (mean grey 3 of 255) with almost no detail (spread 0.8): "
    "something covers the lens, or a light blinds it",
    protocol.DEFOCUSED: "the picture is blurred: sharpness 0.031, its usual 0.452; the focus was turned, "
    "or the lens is sprayed, wet or dirty",
    protocol.TURNED_AWAY: "94% of the textured parts of the picture no longer match the view the camera "
    "learnt: it was turned or knocked. Switch the camera off and on to make it learn a new view",
}


@pytest.mark.parametrize("code", protocol.TAMPER_PROBLEMS)
async def test_tamper_problem_is_a_repair_and_an_event(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry, code: str
) -> None:
    announce(hass, "camera_porch")
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "off"
    events = async_capture_events(hass, EVENT_AGENT_PROBLEM)

    problems = [{"code": code, "count": 1, "detail": DETAILS[code]}]
    fire(hass, "bobby/camera/porch/stats", payload("camera_porch", "stats", problems=problems))
    await hass.async_block_till_done()

    assert hass.states.get(PROBLEM).state == "on"
    assert hass.states.get(PROBLEM).attributes["problems"] == [code]
    issue = issue_registry.async_get_issue(DOMAIN, f"camera_porch_{code}")
    assert issue is not None
    assert issue.translation_key == code
    assert issue.translation_placeholders["detail"] == DETAILS[code]
    title = EN["issues"][code]["title"].format(**issue.translation_placeholders)
    assert title.startswith("Porch ")
    assert DETAILS[code] in EN["issues"][code]["description"].format(**issue.translation_placeholders)
    assert [(e.data["problem"], e.data["active"], e.data["agent_id"]) for e in events] == [
        (code, True, "porch")
    ]

    fire(hass, "bobby/camera/porch/stats", payload("camera_porch", "stats", problems=[]))
    await hass.async_block_till_done()
    assert hass.states.get(PROBLEM).state == "off"
    assert issue_registry.async_get_issue(DOMAIN, f"camera_porch_{code}") is None
    assert [(e.data["problem"], e.data["active"]) for e in events] == [(code, True), (code, False)]
