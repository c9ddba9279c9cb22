"""Event entities: person detections and ready clips per camera; problems per agent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .agent import Agent
from .const import CLIP_READY, PROBLEM_REPORTED, PROBLEMS
from .debounce import PersonTransition
from .entity import BobbyEntity, BobbyEntityDescription, async_add_agent_entities
from .hub import BobbyConfigEntry, BobbyHub
from .monitoring import RECOVERED

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyEventDescription(BobbyEntityDescription, EventEntityDescription):
    """An event entity of an agent, fed by one hub signal (no channel refreshes it)."""

    signal_fn: Callable[[BobbyHub, Agent], str]
    channels: frozenset[str] = frozenset()


DESCRIPTIONS: tuple[BobbyEventDescription, ...] = (
    BobbyEventDescription(
        key="person_event",
        translation_key="person",
        # clip_ready carries the clip's media-content id and URL (recording.manager).
        event_types=[*(t.value for t in PersonTransition), CLIP_READY],
        signal_fn=lambda hub, a: hub.signals.person(a),
        exists_fn=lambda a: a.is_camera,
    ),
    BobbyEventDescription(
        key="problem_event",
        translation_key="problem",
        event_types=[*PROBLEMS, PROBLEM_REPORTED, RECOVERED],
        entity_category=EntityCategory.DIAGNOSTIC,
        signal_fn=lambda hub, a: hub.signals.problem(a),
        exists_fn=lambda a: a.announced,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add event entities for known agents and for those that appear later."""
    async_add_agent_entities(entry, async_add_entities, DESCRIPTIONS, BobbyEvent)


class BobbyEvent(BobbyEntity, EventEntity):
    """Fires on the transitions the hub reports."""

    entity_description: BobbyEventDescription

    @override
    async def async_added_to_hass(self) -> None:
        """Listen to the hub's signal for this entity (not to every state update)."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, self.entity_description.signal_fn(self.hub, self.agent), self._handle_event
            )
        )

    @callback
    def _handle_event(self, event_type: str, attributes: dict[str, Any]) -> None:
        self._trigger_event(event_type, attributes)
        self.async_write_ha_state()
