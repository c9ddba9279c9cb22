"""Event entities: person detections per camera; problems per service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import PROBLEMS
from .entity import BobbyEntity, async_add_service_entities
from .hub import BobbyConfigEntry, BobbyHub, Service

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyEventDescription(EventEntityDescription):
    """An event entity of a service, fed by one hub signal."""

    signal_fn: Callable[[BobbyHub, Service], str]
    exists_fn: Callable[[Service], bool]


DESCRIPTIONS: tuple[BobbyEventDescription, ...] = (
    BobbyEventDescription(
        key="person_event",
        translation_key="person",
        event_types=["detected", "cleared"],
        signal_fn=lambda hub, s: hub.signal_person(s),
        exists_fn=lambda s: s.kind == "camera",
    ),
    BobbyEventDescription(
        key="problem_event",
        translation_key="problem",
        event_types=[*PROBLEMS, "recovered"],
        entity_category=EntityCategory.DIAGNOSTIC,
        signal_fn=lambda hub, s: hub.signal_problem(s),
        exists_fn=lambda s: s.is_agent,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add event entities for known services and for those that appear later."""
    async_add_service_entities(entry, async_add_entities, DESCRIPTIONS, BobbyEvent)


class BobbyEvent(BobbyEntity, EventEntity):
    """Fires on the transitions the hub reports."""

    entity_description: BobbyEventDescription

    async def async_added_to_hass(self) -> None:
        """Listen to the hub's signal for this entity (not to every state update)."""
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, self.entity_description.signal_fn(self.hub, self.service), self._handle_event
            )
        )

    @callback
    def _handle_event(self, event_type: str, attributes: dict[str, Any]) -> None:
        self._trigger_event(event_type, attributes)
        self.async_write_ha_state()
