"""Diagnostics: options and what the hub knows of every service, host names redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .hub import BobbyConfigEntry

TO_REDACT = {"hostname", "username", "password"}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: BobbyConfigEntry) -> dict[str, Any]:
    """Return diagnostics for the hub entry."""
    hub = entry.runtime_data
    services = {
        key: {
            "kind": s.kind,
            "service_id": s.service_id,
            "status": s.status,
            "connected": s.connected,
            "problems": list(s.problems),
            "failed_command": s.failed_command,
            "info": s.info,
            "state": s.state,
            "stats": s.stats,
            "person": s.person if s.kind == "camera" else None,
            "last_detection": s.last_detection,
            "snapshot_bytes": None if s.snapshot is None else len(s.snapshot),
            "preview_bytes": None if s.preview is None else len(s.preview),
        }
        for key, s in sorted(hub.services.items())
    }
    return async_redact_data(
        {
            "entry": {"data": dict(entry.data), "options": dict(entry.options)},
            "services": services,
            "invalid_messages": hub.invalid_messages,
            "recent_errors": list(hub.recent_errors),
        },
        TO_REDACT,
    )
