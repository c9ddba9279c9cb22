"""Binary sensors: person occupancy per camera; connectivity and problem per service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoredExtraData, RestoreEntity
from homeassistant.util import dt as dt_util

from .const import AGENT_CHANNELS, DETECTION_CHANNELS
from .entity import BobbyEntity, async_add_service_entities
from .hub import BobbyConfigEntry, BobbyHub, Service

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor of a service."""

    value_fn: Callable[[Service], bool | None]
    exists_fn: Callable[[Service], bool]
    attributes_fn: Callable[[Service], dict[str, Any]] | None = None
    channels: frozenset[str] = AGENT_CHANNELS


PERSON = BobbyBinarySensorDescription(
    key="person",
    translation_key="person",
    device_class=BinarySensorDeviceClass.OCCUPANCY,
    value_fn=lambda s: s.person,
    channels=DETECTION_CHANNELS,
    exists_fn=lambda s: s.kind == "camera",
)

DESCRIPTIONS: tuple[BobbyBinarySensorDescription, ...] = (
    PERSON,
    BobbyBinarySensorDescription(
        key="connectivity",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda s: s.connected,
        exists_fn=lambda s: s.is_agent,
    ),
    BobbyBinarySensorDescription(
        key="problem",
        translation_key="problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda s: bool(s.problems),
        exists_fn=lambda s: s.is_agent,
        attributes_fn=lambda s: {"problems": list(s.problems), "failed_command": s.failed_command},
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add binary sensors for known services and for those that appear later."""

    def create(
        hub: BobbyHub, service: Service, description: BobbyBinarySensorDescription
    ) -> BinarySensorEntity:
        if description is PERSON:
            return BobbyPersonSensor(hub, service, description)
        return BobbyBinarySensor(hub, service, description)

    create.__name__ = "binary_sensor"
    async_add_service_entities(entry, async_add_entities, DESCRIPTIONS, create)


class BobbyBinarySensor(BobbyEntity, BinarySensorEntity):
    """A binary sensor that reads its value from the service."""

    entity_description: BobbyBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """Return the value."""
        return self.entity_description.value_fn(self.service)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details, where the description has them."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.service)


class BobbyPersonSensor(BobbyBinarySensor, RestoreEntity):
    """Person occupancy; keeps the last detection time over restarts (detections are not retained).

    No per-detection attributes: at many detections a second they would write a new state
    each time; the last-score sensor and the event entity carry the details.
    """

    async def async_added_to_hass(self) -> None:
        """Restore the person state where no detection has arrived since start."""
        await super().async_added_to_hass()
        if self.service.last_hit is None and (extra := await self.async_get_last_extra_data()):
            raw = extra.as_dict().get("last_hit")
            if isinstance(raw, str) and (last_hit := dt_util.parse_datetime(raw)) is not None:
                self.hub.async_restore_person(self.service, last_hit)

    @property
    def extra_restore_state_data(self) -> ExtraStoredData:
        """Store when a person was last seen."""
        last_hit = self.service.last_hit
        return RestoredExtraData({"last_hit": last_hit.isoformat() if last_hit else None})
