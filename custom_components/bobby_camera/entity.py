"""The base entity and the platform helper shared by all platforms."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import AGENT_CHANNELS, DOMAIN
from .hub import BobbyConfigEntry, BobbyHub, Service


class BobbyDescription(Protocol):
    """What every platform's entity description provides."""

    key: str
    exists_fn: Callable[[Service], bool]


class BobbyEntity(Entity):
    """An entity of one camera or detector, refreshed by the hub's signals."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, hub: BobbyHub, service: Service, description: EntityDescription) -> None:
        """Bind the entity to its service and device."""
        self.hub = hub
        self.service = service
        self.entity_description = description
        self._attr_unique_id = f"{service.key}_{description.key}"
        # The hub registers and updates the device (name, model, version): link by id.
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, service.key)})

    async def async_added_to_hass(self) -> None:
        """Refresh when the hub says the service changed."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self.hub.signal_update(self.service), self._handle_update)
        )

    @callback
    def _handle_update(self, channel: str | None) -> None:
        if channel is None or channel in getattr(self.entity_description, "channels", AGENT_CHANNELS):
            self.async_write_ha_state()


def async_add_service_entities(
    entry: BobbyConfigEntry,
    async_add_entities: AddEntitiesCallback,
    descriptions: Sequence[Any],
    entity_cls: Callable[[BobbyHub, Service, Any], Entity],
) -> None:
    """Add the entities each service should have, now and whenever services appear or change."""
    hub = entry.runtime_data
    platform = getattr(entity_cls, "__name__", "entity")

    @callback
    def add(service: Service) -> None:
        entities = []
        for description in descriptions:
            tag = f"{platform}:{description.key}"
            if tag not in service.entity_tags and description.exists_fn(service):
                service.entity_tags.add(tag)
                entities.append(entity_cls(hub, service, description))
        if entities:
            async_add_entities(entities)

    for service in list(hub.services.values()):
        add(service)
    entry.async_on_unload(async_dispatcher_connect(entry.runtime_data.hass, hub.signal_new_service, add))
