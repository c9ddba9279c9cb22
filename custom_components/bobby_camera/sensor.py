"""Sensors: camera fps and last score; detector inference time, analysed fps, dropped frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTemperature, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import AGENT_CHANNELS, DETECTION_CHANNELS
from .entity import BobbyEntity, async_add_service_entities
from .hub import BobbyConfigEntry, Service

PARALLEL_UPDATES = 0

FPS = "fps"


def _stat(key: str) -> Callable[[Service], Any]:
    return lambda s: None if s.stats is None else s.stats.get(key)


def _reporting(service: Service) -> bool:
    return bool(service.connected)


@dataclass(frozen=True, kw_only=True)
class BobbySensorDescription(SensorEntityDescription):
    """A sensor of a service."""

    value_fn: Callable[[Service], Any]
    exists_fn: Callable[[Service], bool]
    available_fn: Callable[[Service], bool] = _reporting
    channels: frozenset[str] = AGENT_CHANNELS


def _camera_agent(s: Service) -> bool:
    return s.kind == "camera" and s.is_agent


def _detector(s: Service) -> bool:
    return s.kind == "detector" and s.is_agent


DESCRIPTIONS: tuple[BobbySensorDescription, ...] = (
    BobbySensorDescription(
        key="fps",
        translation_key="camera_fps",
        native_unit_of_measurement=FPS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_stat("fps"),
        exists_fn=_camera_agent,
    ),
    BobbySensorDescription(
        key="last_score",
        translation_key="last_score",
        native_unit_of_measurement="%",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda s: None if s.last_detection is None else round(s.last_detection["score"] * 100, 1),
        exists_fn=lambda s: s.kind == "camera",
        available_fn=lambda s: True,
        channels=DETECTION_CHANNELS,
    ),
    BobbySensorDescription(
        key="inference_time",
        translation_key="inference_time",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_stat("inference_ms_p50"),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="analysed_fps",
        translation_key="analysed_fps",
        native_unit_of_measurement=FPS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_stat("fps"),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="frames_dropped",
        translation_key="frames_dropped",
        native_unit_of_measurement="frames",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_stat("frames_dropped"),
        exists_fn=_detector,
    ),
    BobbySensorDescription(
        key="cpu_temperature",
        translation_key="cpu_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_stat("cpu_temperature"),
        exists_fn=lambda s: s.is_agent,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add sensors for known services and for those that appear later."""
    async_add_service_entities(entry, async_add_entities, DESCRIPTIONS, BobbySensor)


class BobbySensor(BobbyEntity, SensorEntity):
    """A sensor that reads its value from the service."""

    entity_description: BobbySensorDescription

    @property
    def available(self) -> bool:
        """Stats-based sensors are unavailable while the service is offline or silent."""
        return self.entity_description.available_fn(self.service)

    @property
    def native_value(self) -> Any:
        """Return the value."""
        return self.entity_description.value_fn(self.service)
