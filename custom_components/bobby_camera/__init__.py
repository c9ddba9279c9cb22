"""Bobby Camera: person detection from MQTT cameras and detectors."""

from __future__ import annotations

from homeassistant.components import mqtt
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .compat import HAS_OPTIONS_FLOW_RELOAD
from .const import CONF_BASE_TOPIC, DEFAULT_BASE_TOPIC, DOMAIN
from .hub import BobbyConfigEntry, BobbyHub
from .recording import http as recording_http
from .services import async_setup_services
from .store import HubStore

PLATFORMS = [
    Platform.ALARM_CONTROL_PANEL,
    Platform.BINARY_SENSOR,
    Platform.CAMERA,
    Platform.DATETIME,
    Platform.EVENT,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions (once, for every entry)."""
    async_setup_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: BobbyConfigEntry) -> bool:
    """1.1 → 1.2: the base topic moves from the options to the entry's data."""
    if entry.version > 1:
        return False  # written by a newer release: do not guess
    if entry.minor_version < 2:
        options = dict(entry.options)
        base_topic = options.pop(CONF_BASE_TOPIC, DEFAULT_BASE_TOPIC)
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_BASE_TOPIC: base_topic}, options=options, minor_version=2
        )
    return True


async def async_setup_entry(hass: HomeAssistant, entry: BobbyConfigEntry) -> bool:
    """Start the hub and its platforms."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_not_ready")
    hub = BobbyHub(hass, entry)
    entry.runtime_data = hub
    entry.async_on_unload(hub.store.async_save)  # runs after async_stop (last in, first out)
    entry.async_on_unload(hub.async_stop)
    await hub.async_start()
    recording_http.register(hass)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if not HAS_OPTIONS_FLOW_RELOAD:  # pragma: no cover - 2025.4 lane
        entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


async def _async_reload(hass: HomeAssistant, entry: BobbyConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: BobbyConfigEntry) -> bool:
    """Unload the platforms; the hub stops through async_on_unload."""
    await entry.runtime_data.live.async_stop()  # the leases end now, not LIVE_LEASE s from now
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: BobbyConfigEntry) -> None:
    """The entry is deleted: so is what its hub stored (desired state, last reports)."""
    await HubStore(hass, entry.entry_id).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: BobbyConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user remove a camera or detector that is not online."""
    hub = entry.runtime_data
    if (DOMAIN, entry.entry_id) in device.identifiers:
        return False  # the hub itself
    agent = hub.agent_for_device(device)
    if agent is None:
        return True
    if agent.online:
        return False  # it would come straight back: stop the agent first
    await hub.async_forget(agent)
    return True
