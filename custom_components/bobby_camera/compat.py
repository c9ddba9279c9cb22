"""Differences between the Home Assistant releases we support, in one place.

Tested on 2025.4 (the oldest) and 2026.10 (the newest): see tests/integration. Each lane
runs one side of a version check, so both sides carry `pragma: no cover` (the lane that
runs a side tests it; neither lane's coverage counts the other's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant import config_entries
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

# 2025.8 added OptionsFlowWithReload and discourages reload-on-update listeners; older
# releases need the listener. HAS_OPTIONS_FLOW_RELOAD tells __init__ which to use.
HAS_OPTIONS_FLOW_RELOAD = hasattr(config_entries, "OptionsFlowWithReload")
if TYPE_CHECKING:
    OptionsFlowBase = config_entries.OptionsFlow
elif HAS_OPTIONS_FLOW_RELOAD:
    OptionsFlowBase = config_entries.OptionsFlowWithReload  # pragma: no cover - 2026 lane
else:  # pragma: no cover - exercised on the 2025.4 lane only
    OptionsFlowBase = config_entries.OptionsFlow

# 2026.8 deprecated DeviceInfo.via_device (an identifier) for via_device_id.
_HAS_VIA_DEVICE_ID = "via_device_id" in DeviceInfo.__annotations__


def via_device(parent: dr.DeviceEntry) -> dict[str, Any]:
    """DeviceInfo keys that link a device to its parent device."""
    if _HAS_VIA_DEVICE_ID:
        return {"via_device_id": parent.id}  # pragma: no cover - 2026 lane
    return {"via_device": next(iter(parent.identifiers))}


# 2026.x makes a device belong to one config entry: `async_get_device` (identifiers are
# no longer unique across entries) and `DeviceEntry.config_entries` are deprecated.
def find_device(
    registry: dr.DeviceRegistry, entry_id: str, identifier: tuple[str, str]
) -> dr.DeviceEntry | None:
    """The device of this config entry with this identifier."""
    if hasattr(registry, "async_get_device_by_identifier"):  # pragma: no cover - 2026 lane
        found: dr.DeviceEntry | None = registry.async_get_device_by_identifier(identifier, entry_id)
        return found
    return registry.async_get_device(identifiers={identifier})  # pragma: no cover - 2025.4 lane


def device_entry_ids(device: dr.DeviceEntry) -> set[str]:
    """The config entries a device belongs to."""
    if (entry_id := getattr(device, "config_entry_id", None)) is not None:
        return {entry_id}  # pragma: no cover - 2026 lane
    return set(device.config_entries)  # pragma: no cover - 2025.4 lane
