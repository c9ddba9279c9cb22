"""The device registry: the hub's own device and one device per agent, linked to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from . import protocol
from .agent import Agent, parse_agent_key
from .compat import find_device, via_device
from .const import DOMAIN

MANUFACTURER = "Bobby Camera"

# What a camera's `source` (info, docs/protocol.md) is, as the device page's model says it.
SOURCE_LABELS = {
    "picamera": "Raspberry Pi camera",
    "images": "image folder",
    "video": "video file",
    "http": "HTTP snapshots",
    "rtsp": "RTSP stream",
    "rtsps": "RTSP stream over TLS",
    "v4l2": "USB webcam",
}


class AgentDevices:
    """Registers and finds the devices of one hub entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Nothing is registered until async_register_hub."""
        self.hass = hass
        self.entry = entry
        self.hub_device: dr.DeviceEntry | None = None

    @callback
    def async_register_hub(self) -> dr.DeviceEntry:
        """The hub's own device (the hub switch belongs to it)."""
        self.hub_device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, self.entry.entry_id)},
            manufacturer=MANUFACTURER,
            model="MQTT hub",
            name="Bobby Camera",
            entry_type=dr.DeviceEntryType.SERVICE,
        )
        return self.hub_device

    def known_agents(self) -> Iterator[tuple[str, str]]:
        """(kind, id) of every agent that has a device: seen before a restart."""
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            for domain, key in device.identifiers:
                if domain == DOMAIN and (parsed := parse_agent_key(key)) is not None:
                    yield parsed

    @callback
    def async_update(self, agent: Agent) -> None:
        """Create or update the agent's device from what it announced."""
        info = agent.info
        extra = via_device(self.hub_device) if self.hub_device else {}
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, agent.key)},
            manufacturer=MANUFACTURER,
            model=device_model(agent),
            model_id=info.get("model") if info else None,
            name=agent.name,
            sw_version=info["version"] if info else None,
            # The stream the camera delivers is what its hardware is to the agent; None clears it.
            hw_version=stream_summary(info) if info else None,
            **extra,
        )

    def device_id(self, agent: Agent) -> str | None:
        """The id of the agent's device, for events and automations."""
        device = find_device(dr.async_get(self.hass), self.entry.entry_id, (DOMAIN, agent.key))
        return device.id if device else None

    @callback
    def async_fire(self, event_type: str, agent: Agent | None, data: dict[str, Any]) -> None:
        """Fire a bus event about an agent, naming its device for automations (None: no agent)."""
        device_id = None if agent is None else self.device_id(agent)
        self.hass.bus.async_fire(event_type, {"device_id": device_id, **data})


def device_model(agent: Agent) -> str:
    """`Camera agent (RTSP stream)`: the kind, and for a camera the source type it announced."""
    if not agent.announced:
        return "MQTT camera"
    model = f"{agent.kind.capitalize()} agent"
    if agent.info is not None and (source := agent.info.get("source")):
        model += f" ({SOURCE_LABELS.get(source, source)})"
    return model


def stream_summary(info: protocol.InfoPayload) -> str | None:
    """`h264 1920×1080 15 fps`: a camera's video stream as far as it is known; None without one."""
    parts = []
    if codec := info.get("stream_codec"):
        parts.append(codec)
    if size := info.get("stream_resolution"):
        parts.append(resolution_text(size))
    if (fps := info.get("stream_fps")) is not None:
        parts.append(f"{fps:g} fps")
    return " ".join(parts) or None


def resolution_text(size: list[int]) -> str:
    """`1920×1080` from `[width, height]`."""
    return "×".join(str(side) for side in size)


def agent_key_of(device: dr.DeviceEntry) -> str | None:
    """The key of the agent a device stands for; None for the hub's device or another's."""
    for domain, key in device.identifiers:
        if domain == DOMAIN and parse_agent_key(key) is not None:
            return key
    return None
