"""Binary sensors: person occupancy and recording per camera; connectivity and problem per agent.

And per camera, as the owner sets them (`bobby_camera.set_zones`): *Person in <zone>* for
each zone, and an occupancy sensor for each object picked besides person (*Car*, *Dog*).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoredExtraData, RestoreEntity
from homeassistant.util import dt as dt_util

from . import protocol
from .agent import Agent, label_key, zone_key
from .const import AGENT_CHANNELS, CLIP_CHANNEL, COVERAGE_CHANNEL, DETECTION_CHANNELS
from .entity import BobbyEntity, BobbyEntityDescription, async_add_agent_entities
from .hub import BobbyConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BobbyBinarySensorDescription(BobbyEntityDescription, BinarySensorEntityDescription):
    """A binary sensor of an agent."""

    value_fn: Callable[[Agent], bool | None]
    available_fn: Callable[[Agent], bool] | None = None  # None: always available


PERSON = BobbyBinarySensorDescription(
    key="person",
    translation_key="person",
    device_class=BinarySensorDeviceClass.OCCUPANCY,
    value_fn=lambda a: a.person.on,
    channels=DETECTION_CHANNELS,
    exists_fn=lambda a: a.is_camera,
)


HEALTH: tuple[BobbyBinarySensorDescription, ...] = (
    BobbyBinarySensorDescription(
        key="recording",
        translation_key="recording",
        device_class=BinarySensorDeviceClass.RUNNING,
        # The camera's own word (stats): it records while Home Assistant is away too.
        value_fn=lambda a: None if a.stats is None else a.stats.get("recording"),
        exists_fn=lambda a: a.is_camera and a.can_record,
        available_fn=lambda a: bool(a.connected),  # known only while the camera reports
        channels=AGENT_CHANNELS | {CLIP_CHANNEL},
    ),
    BobbyBinarySensorDescription(
        key="connectivity",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda a: a.connected,
        exists_fn=lambda a: a.announced,
    ),
    BobbyBinarySensorDescription(
        key="problem",
        translation_key="problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda a: bool(a.problems),
        exists_fn=lambda a: a.announced,
        attributes_fn=lambda a: {"problems": list(a.problems), "failed_command": a.health.failed_command},
    ),
    # Issue 22: its frames are analysed within the bound (coverage.py); why not, and the bound.
    BobbyBinarySensorDescription(
        key="watched",
        translation_key="watched",
        value_fn=lambda a: None if a.watch is None else a.watch.watched,
        exists_fn=lambda a: a.is_camera,
        available_fn=lambda a: a.watch is not None,  # None inside it: not judged yet (unknown)
        attributes_fn=lambda a: None if a.watch is None else {"cause": a.watch.cause, "bound": a.watch.bound},
        channels=frozenset({COVERAGE_CHANNEL}),
    ),
)

DESCRIPTIONS: tuple[BobbyBinarySensorDescription, ...] = (PERSON, *HEALTH)


def zone_description(name: str) -> BobbyBinarySensorDescription:
    """*Person in <zone>*: a person stands in the zone (zones.py), debounced as the person sensor."""
    return BobbyBinarySensorDescription(
        key=f"zone_{name}",
        translation_key="zone_person",
        translation_placeholders={"zone": name},
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        value_fn=lambda a: a.present(zone_key(name)),
        channels=DETECTION_CHANNELS,
        exists_fn=lambda a: a.is_camera and name in (a.desired.zones or {}),
    )


def object_description(label: str) -> BobbyBinarySensorDescription:
    """*Car*, *Dog*, ...: an object the owner picked is there, debounced as the person sensor."""
    return BobbyBinarySensorDescription(
        key=f"object_{label}",
        translation_key=f"object_{label}",
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        value_fn=lambda a: a.present(label_key(label)),
        channels=DETECTION_CHANNELS,
        exists_fn=lambda a: a.is_camera and label in (a.desired.objects or ()),
    )


OBJECTS: tuple[BobbyBinarySensorDescription, ...] = tuple(
    object_description(label) for label in protocol.OBJECT_LABELS if label != protocol.PERSON
)


def presence_descriptions(agent: Agent) -> list[BobbyBinarySensorDescription]:
    """The zone and object sensors the camera has now."""
    if not agent.is_camera:
        return []
    return [*(zone_description(name) for name in agent.desired.zones or {}), *OBJECTS]


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add binary sensors for known agents and for those that appear later."""
    async_add_agent_entities(entry, async_add_entities, (PERSON,), BobbyPersonSensor)
    async_add_agent_entities(entry, async_add_entities, HEALTH, BobbyBinarySensor)
    async_add_agent_entities(entry, async_add_entities, presence_descriptions, BobbyBinarySensor)


class BobbyBinarySensor(BobbyEntity, BinarySensorEntity):
    """A binary sensor that reads its value from the agent."""

    entity_description: BobbyBinarySensorDescription

    @property
    @override
    def available(self) -> bool:
        """Where the description says when the value is known."""
        if self.entity_description.available_fn is None:
            return super().available
        return self.entity_description.available_fn(self.agent)

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the value."""
        return self.entity_description.value_fn(self.agent)


class BobbyPersonSensor(BobbyBinarySensor, RestoreEntity):
    """Person occupancy; keeps the last detection time over restarts (detections are not retained).

    No per-detection attributes: at many detections a second they would write a new state
    each time; the last-score sensor and the event entity carry the details.
    """

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the person state where no detection has arrived since start."""
        await super().async_added_to_hass()
        if self.agent.person.last_hit is None and (extra := await self.async_get_last_extra_data()):
            raw = extra.as_dict().get("last_hit")
            if isinstance(raw, str) and (last_hit := dt_util.parse_datetime(raw)) is not None:
                self.hub.person.async_restore(self.agent, last_hit)

    @property
    @override
    def extra_restore_state_data(self) -> ExtraStoredData:
        """Store when a person was last seen."""
        last_hit = self.agent.person.last_hit
        return RestoredExtraData({"last_hit": last_hit.isoformat() if last_hit else None})
