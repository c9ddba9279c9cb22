"""Fixtures for the Bobby Camera integration tests (pytest-homeassistant-custom-component)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from pathlib import Path
from typing import Any
from unittest.mock import Mock, PropertyMock, patch

import pytest
from homeassistant.components.mqtt import config_flow as _mqtt_config_flow  # noqa: F401
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, MqttMockPahoClient
from syrupy.assertion import SnapshotAssertion

from custom_components.bobby_camera.const import DEFAULT_OPTIONS, DOMAIN
from tests.support.mosquitto import Mosquitto

from .common import setup_real_mqtt
from .recording_helpers import FakeCameraLink

# MQTT's config flow imports dataclasses that mashumaro compiles with the real datetime:
# imported first under a frozen clock (the freezer fixture) they fail, so import it now.


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ in every test."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's format (ids and times left out)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create entities that are disabled by default as enabled."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def mqtt_client_mock(mqtt_client_mock: MqttMockPahoClient) -> Generator[MqttMockPahoClient]:
    """The plugin's mocked paho client, whose fake socket also closes at the end.

    The mock opens a socket on connect but never closes it, so HA's MQTT client keeps
    its once-a-second timer (cancelled on socket close) past the test. Closing it as a
    real disconnect would lets every test run with lingering timers forbidden: a timer
    the hub forgets fails the test.
    """
    yield mqtt_client_mock
    mqtt_client_mock.on_socket_close(mqtt_client_mock, None, Mock(fileno=Mock(return_value=-1)))


@pytest.fixture
def options() -> dict[str, Any]:
    """Options that differ from the defaults; parametrize to change them per test."""
    return {}


@pytest.fixture
def mock_config_entry(options: dict[str, Any]) -> MockConfigEntry:
    """The hub entry, not yet added to HA (clear after 30 s, command timeout 10 s).

    No offline grace: most tests read the offline problem at once; the grace period's
    own tests set it.
    """
    return MockConfigEntry(
        domain=DOMAIN,
        title="Bobby Camera",
        data={"base_topic": "bobby"},
        options={
            **DEFAULT_OPTIONS,
            "clear_after": 30.0,
            "command_timeout": 10.0,
            "offline_grace": 0.0,
            **options,
        },
        unique_id=DOMAIN,
        version=1,
        minor_version=2,
    )


@pytest.fixture
def platforms() -> list[str] | None:
    """Platforms to set up; None sets up all of them."""
    return None


@pytest.fixture
def media_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """HA's media folder for this test (recordings go under it), not the shared test config."""
    folder = tmp_path / "media"
    folder.mkdir()
    hass.config.media_dirs = {"local": str(folder)}
    return folder


@pytest.fixture
async def init_integration(
    hass: HomeAssistant,
    media_dir: Path,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    platforms: list[str] | None,
) -> Generator[MockConfigEntry]:
    """The hub entry, set up on a mocked MQTT client."""
    mock_config_entry.add_to_hass(hass)
    if platforms is None:
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    else:
        with patch("custom_components.bobby_camera.PLATFORMS", platforms):
            assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
def broker(socket_enabled: None, tmp_path: Path) -> Generator[Mosquitto]:
    """A Mosquitto of this test's own on a free loopback port."""
    server = Mosquitto(tmp_path / "broker").start()
    yield server
    server.stop()


@pytest.fixture
async def ha_mqtt(hass: HomeAssistant, mock_hass_config: None, broker: Mosquitto) -> AsyncGenerator[None]:
    """HA's MQTT integration connected to the broker (entry format of the running HA)."""
    entry = await setup_real_mqtt(hass, broker)
    yield
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
async def hub_entry(
    hass: HomeAssistant, media_dir: Path, ha_mqtt: None, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """The Bobby Camera hub on the real MQTT client."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
async def camera(
    hass: HomeAssistant, broker: Mosquitto, hub_entry: MockConfigEntry
) -> AsyncGenerator[FakeCameraLink]:
    """A recording camera's MQTT side, announced to the hub (the recording tests)."""
    link = await hass.async_add_executor_job(FakeCameraLink, hass, broker)
    await hass.async_add_executor_job(link.announce)
    await link.wait_subscribed()
    yield link
    await hass.async_add_executor_job(link.close)
