"""The entity description, base entity and platform helper shared by every platform."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, override
from weakref import WeakKeyDictionary

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .agent import Agent
from .const import AGENT_CHANNELS, DOMAIN
from .hub import BobbyConfigEntry, BobbyHub


@dataclass(frozen=True, kw_only=True)
class BobbyEntityDescription(EntityDescription):
    """What every entity of an agent declares, whatever its platform."""

    exists_fn: Callable[[Agent], bool]  # whether this agent has the entity
    # The hub channels whose messages refresh the entity (empty: none, it has its own signal).
    channels: frozenset[str] = AGENT_CHANNELS
    attributes_fn: Callable[[Agent], dict[str, Any] | None] | None = None  # None: no attributes


class BobbyEntity(Entity):
    """An entity of one agent, refreshed by the hub's signals."""

    entity_description: BobbyEntityDescription
    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, hub: BobbyHub, agent: Agent, description: BobbyEntityDescription) -> None:
        """Bind the entity to its agent and device."""
        self.hub = hub
        self.agent = agent
        self.entity_description = description
        self._attr_unique_id = f"{agent.key}_{description.key}"
        # The hub registers and updates the device (name, model, version): link by id.
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, agent.key)})

    @override
    async def async_added_to_hass(self) -> None:
        """Refresh when the hub says a channel the entity reads changed."""
        await super().async_added_to_hass()
        if self.entity_description.channels:
            self.async_on_remove(
                async_dispatcher_connect(self.hass, self.hub.signals.update(self.agent), self._handle_update)
            )

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details, where the description has them."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.agent)

    @callback
    def _handle_update(self, channel: str | None) -> None:
        if channel is None or channel in self.entity_description.channels:
            self.async_write_ha_state()


def async_add_agent_entities[D: BobbyEntityDescription](
    entry: BobbyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    descriptions: Sequence[D] | Callable[[Agent], Sequence[D]],
    entity_cls: Callable[[BobbyHub, Agent, D], Entity],
) -> None:
    """Add the entities each agent should have, now and whenever agents appear or change.

    `descriptions` may depend on the agent (a camera's zones and objects, set by the owner).
    """
    hub = entry.runtime_data
    # Description keys added per agent. Weak: a forgotten agent that comes back is a new
    # Agent object and gets its entities again.
    added: WeakKeyDictionary[Agent, set[str]] = WeakKeyDictionary()

    @callback
    def add(agent: Agent) -> None:
        done = added.setdefault(agent, set())
        entities = []
        wanted = descriptions(agent) if callable(descriptions) else descriptions
        # Entities the owner took away (a zone removed): made again if they come back.
        done.intersection_update(d.key for d in wanted if d.exists_fn(agent))
        for description in wanted:
            if description.key not in done and description.exists_fn(agent):
                done.add(description.key)
                entities.append(entity_cls(hub, agent, description))
        if entities:
            async_add_entities(entities)

    for agent in list(hub.agents.values()):
        add(agent)
    entry.async_on_unload(async_dispatcher_connect(hub.hass, hub.signals.new_agent, add))
