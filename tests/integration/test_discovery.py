"""MQTT discovery: the first agent that announces itself makes HA offer Bobby Camera.

Through HA's own MQTT discovery (the manifest's `mqtt` topics): a message fired on the
mocked client goes the way a broker's would, through HA's discovery subscriptions to
`async_step_mqtt`. The same path on a real broker and a real `hass` is in
tests/e2e/test_discovery.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera import protocol
from custom_components.bobby_camera.const import DEFAULT_OPTIONS, DOMAIN
from tests.contract.examples import invalid_messages

from .common import device, payload

PORCH_INFO = "bobby/camera/porch/info"


def _raw(data: object) -> bytes | str:
    return data if isinstance(data, bytes | str) else json.dumps(data)


def _announce(hass: HomeAssistant, topic: str, data: object) -> None:
    async_fire_mqtt_message(hass, topic, _raw(data), qos=1, retain=True)


def _offers(hass: HomeAssistant) -> list[dict[str, object]]:
    """Flows of ours in progress that the user did not start: what "Discovered" shows."""
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == config_entries.SOURCE_MQTT
    ]


async def _discover(hass: HomeAssistant, topic: str, data: object) -> ConfigFlowResult:
    """Start our MQTT step directly, as HA's discovery would with this message."""
    info = MqttServiceInfo(
        topic=topic,
        payload=_raw(data),
        qos=1,
        retain=True,
        subscribed_topic="bobby/camera/+/info",
        timestamp=0,
    )
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_MQTT}, data=info
    )


def test_manifest_topics_are_the_agents_info_topics() -> None:
    """HA subscribes to exactly the info topics of the default base (see docs/home-assistant.md)."""
    manifest = json.loads((Path(protocol.__file__).parent / "manifest.json").read_text())
    assert manifest["mqtt"] == [f"{protocol.DEFAULT_BASE_TOPIC}/{kind}/+/info" for kind in protocol.KINDS]


async def test_an_announcing_agent_offers_the_hub(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """Its info on the broker → a confirm-only offer naming it; confirming creates the hub,
    which then subscribes by itself and finds the agent."""
    _announce(hass, PORCH_INFO, payload("camera_porch", "info"))
    await hass.async_block_till_done(wait_background_tasks=True)

    [offer] = _offers(hass)
    assert offer["step_id"] == "discovery_confirm"
    assert offer["context"]["title_placeholders"] == {"name": "Porch", "base_topic": "bobby"}
    assert offer["context"]["confirm_only"] is True

    result = await hass.config_entries.flow.async_configure(offer["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == DOMAIN
    assert entry.data == {"base_topic": "bobby"}
    assert entry.options == DEFAULT_OPTIONS
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is config_entries.ConfigEntryState.LOADED

    topics = {call.args[0] for call in mqtt_mock.async_subscribe.call_args_list}
    assert "bobby/+/+/info" in topics
    # The broker hands a new subscriber the retained info again: the hub makes the device.
    _announce(hass, PORCH_INFO, payload("camera_porch", "info"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert device(hass, entry.entry_id, "camera_porch").name == "Porch"


async def test_after_setup_announcements_offer_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """With the hub set up, a new agent becomes a device, not a second offer."""
    _announce(hass, "bobby/detector/pi4/info", payload("detector_pi4", "info"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _offers(hass) == []
    assert device(hass, init_integration.entry_id, "detector_pi4") is not None

    # HA's flow manager refuses before our step runs (manifest: single_config_entry) ...
    result = await _discover(hass, PORCH_INFO, payload("camera_porch", "info"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"


async def test_the_step_itself_aborts_when_configured(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """... and the step would abort by itself without that manifest key (unique id)."""
    with patch("homeassistant.config_entries._support_single_config_entry_only", return_value=False):
        result = await _discover(hass, PORCH_INFO, payload("camera_porch", "info"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_a_custom_base_topic_is_taken_from_the_topic(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The step takes the base from the topic it is given, validated by the protocol rule
    (HA itself only delivers the manifest's `bobby/...` topics)."""
    result = await _discover(hass, "home/cams/camera/porch/info", payload("camera_porch", "info"))
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {
        "kind": "camera",
        "agent_id": "porch",
        "base_topic": "home/cams",
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["result"].data["base_topic"] == "home/cams"


async def test_an_agent_without_a_name_is_offered_by_its_id(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    info = payload("detector_pi4", "info")
    info.pop("name", None)
    _announce(hass, "bobby/detector/pi4/info", info)
    await hass.async_block_till_done(wait_background_tasks=True)
    [offer] = _offers(hass)
    assert offer["context"]["title_placeholders"]["name"] == "pi4"


async def test_several_agents_make_one_offer(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """A hub serves every agent: a second announcement does not add a second offer."""
    _announce(hass, PORCH_INFO, payload("camera_porch", "info"))
    _announce(hass, "bobby/detector/pi4/info", payload("detector_pi4", "info"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(_offers(hass)) == 1


async def test_setting_up_by_hand_while_an_offer_waits(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The user flow is not blocked by a waiting offer (e.g. to use another base topic),
    and the offer goes away once the hub exists."""
    _announce(hass, PORCH_INFO, payload("camera_porch", "info"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(_offers(hass)) == 1

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"base_topic": "garden"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].data["base_topic"] == "garden"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _offers(hass) == []


async def test_an_ignored_offer_stays_ignored_but_manual_setup_works(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    _announce(hass, PORCH_INFO, payload("camera_porch", "info"))
    await hass.async_block_till_done(wait_background_tasks=True)
    [offer] = _offers(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_IGNORE},
        data={"unique_id": offer["context"]["unique_id"], "title": "Bobby Camera"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _offers(hass) == []

    # Another agent, later: no new offer for an ignored integration.
    _announce(hass, "bobby/detector/pi4/info", payload("detector_pi4", "info"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _offers(hass) == []

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"base_topic": "bobby"})
    assert result["type"] is FlowResultType.CREATE_ENTRY


_HOSTILE = [
    pytest.param(topic, raw, id=why)
    for topic, raw, why in invalid_messages()
    if topic.startswith("bobby/camera/") and topic.endswith("/info")
] + [
    pytest.param(PORCH_INFO, b"", id="a retained info being cleared"),
    pytest.param(
        "bobby/camera/bad id/info",
        json.dumps(payload("camera_porch", "info", id="bad id")).encode(),
        id="bad id",
    ),
    pytest.param(
        f"bobby/camera/{'x' * 65}/info",
        json.dumps(payload("camera_porch", "info", id="x" * 65)).encode(),
        id="id over 64 characters",
    ),
]


@pytest.mark.parametrize(("topic", "raw"), _HOSTILE)
async def test_hostile_announcements_offer_nothing(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, caplog: pytest.LogCaptureFixture, topic: str, raw: bytes
) -> None:
    """Anyone on the broker can publish there: a bad message aborts cleanly, says why
    without the payload, and a real agent's announcement afterwards is still offered."""
    caplog.set_level(logging.DEBUG, logger="custom_components.bobby_camera")
    _announce(hass, topic, raw)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _offers(hass) == []
    ours = [r for r in caplog.records if r.name.startswith("custom_components.bobby_camera")]
    assert [r.getMessage().split(":")[0] for r in ours] == [f"Not offering Bobby Camera for {topic}"]
    assert all(len(r.getMessage()) < 400 for r in ours)
    if len(raw) > 100:
        assert all(raw.decode(errors="replace")[:100] not in r.getMessage() for r in ours)

    _announce(hass, "bobby/camera/garden/info", payload("camera_porch", "info", id="garden"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(_offers(hass)) == 1


@pytest.mark.parametrize(
    ("topic", "raw"),
    [
        pytest.param("bobby/camera/porch/info", b"\xff\xfe not utf-8", id="not UTF-8"),
        pytest.param("bobby/camera/porch/status", b"online", id="not an info topic"),
        pytest.param("bobby/camera/porch/info", "[" * 20 + "]" * 20, id="nested"),
    ],
)
async def test_the_step_refuses_what_is_not_an_info(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, topic: str, raw: bytes | str
) -> None:
    """Given directly (not through HA's decoding subscription), the step still refuses."""
    result = await _discover(hass, topic, raw)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery_info"


async def test_an_announced_name_cannot_put_a_link_in_the_dialog(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The confirm dialog renders markdown: it shows the agent's id, never its free-text name."""
    name = "[Update your password here](https://evil.example)"
    info = payload("camera_porch", "info")
    info["name"] = name
    _announce(hass, PORCH_INFO, info)
    await hass.async_block_till_done(wait_background_tasks=True)
    [offer] = _offers(hass)
    result = await hass.config_entries.flow.async_configure(offer["flow_id"])
    assert result["step_id"] == "discovery_confirm"
    assert name not in result["description_placeholders"].values()
    assert result["description_placeholders"]["agent_id"] == "porch"
