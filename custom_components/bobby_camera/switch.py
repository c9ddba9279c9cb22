"""Switches: enable per agent (acknowledged state only) and one for all agents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, PROBLEM_STATE_MISMATCH
from .entity import BobbyEntity, BobbyEntityDescription, async_add_agent_entities
from .helpers import bobby_command
from .hub import BobbyConfigEntry, BobbyHub

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbySwitchDescription(BobbyEntityDescription, SwitchEntityDescription):
    """A switch of an agent."""


DESCRIPTIONS: tuple[BobbySwitchDescription, ...] = (
    BobbySwitchDescription(key="enabled", translation_key="enabled", exists_fn=lambda a: a.announced),
)


def _timeout(entity: BobbySwitch | BobbyHubSwitch, *_: Any) -> float:
    return entity.hub.command_timeout


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the hub switch and an enable switch per agent."""
    async_add_entities([BobbyHubSwitch(entry.runtime_data)])
    async_add_agent_entities(entry, async_add_entities, DESCRIPTIONS, BobbySwitch)


class BobbySwitch(BobbyEntity, SwitchEntity):
    """Whether an agent runs, as the agent acknowledged it (never optimistic).

    Once the owner's wish is on record and the agent contradicts it (a state mismatch),
    the switch shows the wish, and the problem sensor beside it says the agent differs:
    an agent that keeps reporting something else cannot make it flap.
    """

    entity_description: BobbySwitchDescription

    @property
    @override
    def available(self) -> bool:
        """Commands can only reach an online agent whose state is known, over a live broker."""
        return self.agent.online and self.agent.enabled is not None and not self.hub.cut_off

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the acknowledged state, or the owner's wish while the agent contradicts it."""
        health = self.agent.health
        contradicted = health.lying or PROBLEM_STATE_MISMATCH in health.problems
        if contradicted and "enabled" in health.mismatch and self.agent.desired.enabled is not None:
            return self.agent.desired.enabled
        return self.agent.enabled

    @bobby_command(_timeout)
    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Enable the agent and wait for its ack."""
        await self.hub.control.async_set_enabled(self.agent, True)

    @bobby_command(_timeout)
    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disable the agent and wait for its ack."""
        await self.hub.control.async_set_enabled(self.agent, False)


class BobbyHubSwitch(SwitchEntity):
    """On when every agent is enabled; switching it sends the command to all of them."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "all_enabled"

    def __init__(self, hub: BobbyHub) -> None:
        """Attach to the hub device."""
        self.hub = hub
        self._attr_unique_id = "hub_all_enabled"  # one hub entry per installation
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, hub.entry.entry_id)})

    @override
    async def async_added_to_hass(self) -> None:
        """Refresh on any change of any agent that this switch shows."""
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self.hub.signals.hub_update, self._handle_update)
        )

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()

    @property
    @override
    def is_on(self) -> bool | None:
        """Return whether every agent is enabled."""
        return self.hub.control.all_enabled

    @bobby_command(_timeout)
    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Enable every agent."""
        await self.hub.control.async_set_all_enabled(True)

    @bobby_command(_timeout)
    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disable every agent."""
        await self.hub.control.async_set_all_enabled(False)
