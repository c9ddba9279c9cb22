"""Actions: request a preview snapshot, record a clip now, enable or disable an agent, set a
camera's zones, masks and objects."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from . import protocol
from .agent import Agent
from .compat import device_entry_ids
from .const import (
    ATTR_DEVICE_ID,
    ATTR_DURATION,
    ATTR_ENABLED,
    ATTR_MASKS,
    ATTR_OBJECTS,
    ATTR_ZONES,
    DEFAULT_RECORD_SECONDS,
    DOMAIN,
    SERVICE_RECORD_CLIP,
    SERVICE_REQUEST_PREVIEW,
    SERVICE_SET_ENABLED,
    SERVICE_SET_ZONES,
)
from .helpers import bobby_command
from .hub import BobbyConfigEntry, BobbyHub
from .zones import ZoneNameError, check_zones

SCHEMA_REQUEST_PREVIEW = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})
SCHEMA_SET_ENABLED = vol.Schema(
    {vol.Required(ATTR_DEVICE_ID): cv.string, vol.Required(ATTR_ENABLED): cv.boolean}
)

SCHEMA_RECORD_CLIP = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Optional(ATTR_DURATION, default=DEFAULT_RECORD_SECONDS): vol.All(
            vol.Coerce(float), vol.Range(*protocol.RECORD_SECONDS_RANGE)
        ),
    }
)

# Checked in the handler (protocol.check_polygon): the error then names the polygon and
# what is wrong with it, translated, rather than voluptuous's path into nested lists.
SCHEMA_SET_ZONES = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Optional(ATTR_ZONES): object,
        vol.Optional(ATTR_MASKS): object,
        vol.Optional(ATTR_OBJECTS): object,
    }
)


def _resolve(hass: HomeAssistant, device_id: str) -> tuple[BobbyHub, Agent]:
    """The hub and agent behind a device id, or a translated validation error."""
    device = dr.async_get(hass).async_get(device_id)
    if device is not None:
        for entry_id in device_entry_ids(device):
            entry: BobbyConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
            if entry is None or entry.domain != DOMAIN:
                continue
            if entry.state is not ConfigEntryState.LOADED:
                raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_loaded")
            if (agent := entry.runtime_data.agent_for_device(device)) is not None:
                return entry.runtime_data, agent
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_device",
        translation_placeholders={"device_id": device_id},
    )


type _Handler = Callable[[BobbyHub, Agent, ServiceCall], Coroutine[Any, Any, None]]


def _for_device(handler: _Handler) -> Callable[[ServiceCall], Coroutine[Any, Any, None]]:
    """An action on the agent of the call's device; command failures become translated errors."""
    command = bobby_command(lambda hub, *_: hub.command_timeout)(handler)

    async def action(call: ServiceCall) -> None:
        hub, agent = _resolve(call.hass, call.data[ATTR_DEVICE_ID])
        await command(hub, agent, call)

    return action


@_for_device
async def _async_request_preview(hub: BobbyHub, agent: Agent, _call: ServiceCall) -> None:
    if not agent.is_camera:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_a_camera",
            translation_placeholders={"name": agent.name},
        )
    await hub.control.async_request_preview(agent)


@_for_device
async def _async_record_clip(hub: BobbyHub, agent: Agent, call: ServiceCall) -> None:
    if not agent.is_camera or not agent.can_record:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="cannot_record",
            translation_placeholders={"name": agent.name},
        )
    await hub.control.async_record(agent, call.data[ATTR_DURATION])


@_for_device
async def _async_set_enabled(hub: BobbyHub, agent: Agent, call: ServiceCall) -> None:
    await hub.control.async_set_enabled(agent, call.data[ATTR_ENABLED])


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _checked(call: ServiceCall) -> tuple[dict[str, list[list[float]]] | None, dict[str, Any]]:
    """The call's zones and its masks and objects (as `set` fields), checked; else a translated error."""
    data = call.data
    if not {ATTR_ZONES, ATTR_MASKS, ATTR_OBJECTS} & set(data):
        raise _invalid("nothing_to_set")
    try:
        zones = check_zones(data[ATTR_ZONES]) if ATTR_ZONES in data else None
        fields: dict[str, Any] = {}
        if ATTR_MASKS in data:
            fields[ATTR_MASKS] = protocol.check_masks(data[ATTR_MASKS])
        if ATTR_OBJECTS in data:
            fields[ATTR_OBJECTS] = protocol.check_objects(data[ATTR_OBJECTS])
    except protocol.PolygonError as err:
        raise _invalid(f"polygon_{err.reason}", detail=str(err)) from err
    except ZoneNameError as err:
        raise _invalid("zone_name", detail=str(err)) from err
    except protocol.ProtocolError as err:
        raise _invalid("zones_invalid", detail=str(err)) from err
    return zones, fields


@_for_device
async def _async_set_zones(hub: BobbyHub, agent: Agent, call: ServiceCall) -> None:
    if not agent.is_camera:
        raise _invalid("not_a_camera", name=agent.name)
    zones, fields = _checked(call)
    capabilities = agent.info.get("capabilities", []) if agent.info is not None else []
    if fields and "masks" not in capabilities:
        # A plain JPEG camera (or an older agent) cannot carry masks and objects to the detectors.
        raise _invalid("masks_unsupported", name=agent.name)
    before_zones, before_objects = set(agent.desired.zones or {}), set(agent.desired.objects or ())
    try:
        await hub.control.async_set_zones(agent, zones, **fields)
    finally:
        # Zones apply at once; masks and objects stay desired unless the camera refused them.
        _remove_entities(call.hass, agent, before_zones, before_objects)
        hub.signals.new(agent)  # entities for new zones and objects
        hub.signals.refresh(agent)


def _remove_entities(hass: HomeAssistant, agent: Agent, zones: set[str], objects: set[str]) -> None:
    """Remove the sensors of the zones and objects the owner took away."""
    registry = er.async_get(hass)
    gone = [("binary_sensor", f"zone_{name}") for name in zones - set(agent.desired.zones or {})]
    for label in objects - set(agent.desired.objects or ()):
        gone += [("binary_sensor", f"object_{label}"), ("sensor", f"object_{label}_count")]
    for platform, key in gone:
        if (entity_id := registry.async_get_entity_id(platform, DOMAIN, f"{agent.key}_{key}")) is not None:
            registry.async_remove(entity_id)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN, SERVICE_REQUEST_PREVIEW, _async_request_preview, SCHEMA_REQUEST_PREVIEW
    )
    hass.services.async_register(DOMAIN, SERVICE_RECORD_CLIP, _async_record_clip, SCHEMA_RECORD_CLIP)
    hass.services.async_register(DOMAIN, SERVICE_SET_ENABLED, _async_set_enabled, SCHEMA_SET_ENABLED)
    hass.services.async_register(DOMAIN, SERVICE_SET_ZONES, _async_set_zones, SCHEMA_SET_ZONES)
