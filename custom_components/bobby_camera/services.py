"""Actions: request a preview snapshot, record a clip now, enable or disable an agent."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from . import protocol
from .agent import Agent
from .compat import device_entry_ids
from .const import (
    ATTR_DEVICE_ID,
    ATTR_DURATION,
    ATTR_ENABLED,
    DEFAULT_RECORD_SECONDS,
    DOMAIN,
    SERVICE_RECORD_CLIP,
    SERVICE_REQUEST_PREVIEW,
    SERVICE_SET_ENABLED,
)
from .helpers import bobby_command
from .hub import BobbyConfigEntry, BobbyHub

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


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN, SERVICE_REQUEST_PREVIEW, _async_request_preview, SCHEMA_REQUEST_PREVIEW
    )
    hass.services.async_register(DOMAIN, SERVICE_RECORD_CLIP, _async_record_clip, SCHEMA_RECORD_CLIP)
    hass.services.async_register(DOMAIN, SERVICE_SET_ENABLED, _async_set_enabled, SCHEMA_SET_ENABLED)
