"""Config, options and reconfigure flows."""

from __future__ import annotations

import pytest
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera.const import DEFAULT_OPTIONS, DOMAIN
from tests.contract.examples import base_topics


async def test_user_flow_creates_the_hub(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """With MQTT set up the user gives a base topic and gets one hub entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"base_topic": "home/#"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base_topic": "invalid_base_topic"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"base_topic": " home/bobby "})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Bobby Camera"
    entry = result["result"]
    assert entry.unique_id == DOMAIN
    assert entry.data == {"base_topic": "home/bobby"}
    assert entry.options == DEFAULT_OPTIONS
    await hass.async_block_till_done()
    assert entry.runtime_data.base_topic == "home/bobby"


async def test_user_flow_aborts_without_mqtt(hass: HomeAssistant) -> None:
    """No MQTT integration: a clear abort, not a broken entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_only_one_hub(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A second hub entry is refused."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] in {"single_instance_allowed", "already_configured"}


async def test_options_flow_reloads_with_new_options(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Changed options reach a new hub (the entry reloads); the base topic is not an option."""
    old_hub = init_integration.runtime_data
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert "base_topic" not in result["data_schema"].schema
    new_options = {
        "threshold": 0.7,
        "trigger_after": 2,
        "clear_after": 60,
        "command_timeout": 5,
        "offline_grace": 120,
        "max_agents": 10,
        "selftest_interval": 300,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], new_options)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    hub = init_integration.runtime_data
    assert hub is not old_hub
    assert (hub.base_topic, hub.threshold, hub.trigger_after, hub.clear_after, hub.command_timeout) == (
        "bobby",
        0.7,
        2,
        60,
        5,
    )
    assert (hub.offline_grace, hub.max_agents) == (120, 10)
    assert hub.selftests.interval == 300


@pytest.mark.parametrize("new_base", ["garden/bobby"])
async def test_reconfigure_changes_base_topic(
    hass: HomeAssistant, init_integration: MockConfigEntry, mqtt_mock: MqttMockHAClient, new_base: str
) -> None:
    """Reconfigure moves the hub to another base topic and keeps the other options."""
    result = await init_integration.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"base_topic": "bad//topic"})
    assert result["errors"] == {"base_topic": "invalid_base_topic"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"base_topic": new_base})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert init_integration.data["base_topic"] == new_base
    assert init_integration.options["clear_after"] == 30.0
    topics = {call.args[0] for call in mqtt_mock.async_subscribe.call_args_list}
    assert f"{new_base}/+/+/status" in topics


@pytest.mark.parametrize("base", [b for b in base_topics()[1] if b == b.strip()])
async def test_user_flow_refuses_what_the_agents_refuse(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, base: str
) -> None:
    """One base-topic rule: an agent can never run on a base topic the flow refuses, nor the reverse."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"base_topic": base})
    assert result["errors"] == {"base_topic": "invalid_base_topic"}


async def test_reconfigure_aborts_without_mqtt(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """MQTT removed since: reconfigure says what to do instead of saving a topic nobody reads."""
    mock_config_entry.add_to_hass(hass)
    result = await mock_config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_migration_moves_the_base_topic_to_data(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """An entry of 1.1 (base topic among the options) is set up as 1.2 on the same topic."""
    old = MockConfigEntry(
        domain=DOMAIN,
        title="Bobby Camera",
        data={},
        options={**DEFAULT_OPTIONS, "base_topic": "home/bobby", "threshold": 0.7},
        unique_id=DOMAIN,
        version=1,
        minor_version=1,
    )
    old.add_to_hass(hass)
    assert await hass.config_entries.async_setup(old.entry_id)
    await hass.async_block_till_done()
    assert (old.version, old.minor_version) == (1, 2)
    assert old.data == {"base_topic": "home/bobby"}
    assert old.options == {**DEFAULT_OPTIONS, "threshold": 0.7}
    assert old.runtime_data.base_topic == "home/bobby"
    topics = {call.args[0] for call in mqtt_mock.async_subscribe.call_args_list}
    assert "home/bobby/+/+/status" in topics


async def test_an_entry_of_a_newer_release_is_not_set_up(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Downgraded from a release with config entry version 2: a migration error, not a guess."""
    newer = MockConfigEntry(domain=DOMAIN, data={"base_topic": "bobby"}, unique_id=DOMAIN, version=2)
    newer.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(newer.entry_id)
    assert newer.state is config_entries.ConfigEntryState.MIGRATION_ERROR
