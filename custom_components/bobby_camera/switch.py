"""Switches: enable per service (acknowledged state only) and one for all services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import AGENT_CHANNELS, DOMAIN
from .entity import BobbyEntity, async_add_service_entities
from .helpers import bobby_command
from .hub import BobbyConfigEntry, BobbyHub, Service

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbySwitchDescription(SwitchEntityDescription):
    """A switch of a service."""

    exists_fn: Callable[[Service], bool]
    channels: frozenset[str] = AGENT_CHANNELS


DESCRIPTIONS: tuple[BobbySwitchDescription, ...] = (
    BobbySwitchDescription(key="enabled", translation_key="enabled", exists_fn=lambda s: s.is_agent),
)


def _timeout(entity: BobbySwitch | BobbyHubSwitch, *_: Any) -> float:
    return entity.hub.command_timeout


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add the hub switch and an enable switch per agent."""
    async_add_entities([BobbyHubSwitch(entry.runtime_data)])
    async_add_service_entities(entry, async_add_entities, DESCRIPTIONS, BobbySwitch)


class BobbySwitch(BobbyEntity, SwitchEntity):
    """Whether a service runs, as the agent acknowledged it (never optimistic)."""

    entity_description: BobbySwitchDescription

    @property
    def available(self) -> bool:
        """Commands can only reach an online agent whose state is known."""
        return self.service.online and self.service.enabled is not None

    @property
    def is_on(self) -> bool | None:
        """Return the acknowledged state."""
        return self.service.enabled

    @bobby_command(_timeout)
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Enable the service and wait for its ack."""
        await self.hub.async_set_enabled(self.service, True)

    @bobby_command(_timeout)
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disable the service and wait for its ack."""
        await self.hub.async_set_enabled(self.service, False)


class BobbyHubSwitch(SwitchEntity):
    """On when every service is enabled; switching it sends the command to all of them."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "all_enabled"

    def __init__(self, hub: BobbyHub) -> None:
        """Attach to the hub device."""
        self.hub = hub
        self._attr_unique_id = "hub_all_enabled"  # one hub entry per installation
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, hub.entry.entry_id)})

    async def async_added_to_hass(self) -> None:
        """Refresh on any change of any service."""
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self.hub.signal_hub_update, self._handle_update)
        )

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()

    @property
    def is_on(self) -> bool | None:
        """Return whether every service is enabled."""
        return self.hub.all_enabled

    @bobby_command(_timeout)
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Enable every service."""
        await self.hub.async_set_all_enabled(True)

    @bobby_command(_timeout)
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disable every service."""
        await self.hub.async_set_all_enabled(False)
