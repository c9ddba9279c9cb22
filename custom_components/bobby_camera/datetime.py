"""Per camera: until when phone notifications about it are paused.

The notification blueprint keeps its per-camera cooldown and its "pause this camera"
button here, so the owner creates no helper: a blueprint cannot keep state of its own
between runs. The integration only stores the time (restored over restarts); the
automations read and set it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import override

from homeassistant.components.datetime import DateTimeEntity, DateTimeEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from .entity import BobbyEntity, BobbyEntityDescription, async_add_agent_entities
from .hub import BobbyConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyDateTimeDescription(BobbyEntityDescription, DateTimeEntityDescription):
    """A date-time an owner's automations set on an agent's device."""


DESCRIPTIONS: tuple[BobbyDateTimeDescription, ...] = (
    BobbyDateTimeDescription(
        key="notify_paused_until",
        translation_key="notify_paused_until",
        channels=frozenset(),  # nothing the agents send changes it
        exists_fn=lambda a: a.is_camera,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add a pause time per camera, for the cameras known now and those that appear later."""
    async_add_agent_entities(entry, async_add_entities, DESCRIPTIONS, BobbyPausedUntil)


class BobbyPausedUntil(BobbyEntity, DateTimeEntity, RestoreEntity):
    """A time the owner's automations set; empty until one does, kept over restarts."""

    entity_description: BobbyDateTimeDescription
    _attr_native_value: datetime | None = None

    @override
    async def async_added_to_hass(self) -> None:
        """Take back the time set before a restart (a pause outlives it)."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self._attr_native_value = dt_util.parse_datetime(last.state)

    @override
    async def async_set_value(self, value: datetime) -> None:
        """Store the time the automation set."""
        self._attr_native_value = value
        self.async_write_ha_state()
