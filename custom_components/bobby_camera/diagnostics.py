"""Diagnostics: options and what the hub knows of every agent, host names redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import protocol
from .agent import Agent
from .hub import BobbyConfigEntry

TO_REDACT = {"hostname", "username", "password"}


def _spool(agent: Agent) -> dict[str, Any] | None:
    """A recording camera's spool counters from its last stats (docs/protocol.md, stats)."""
    if not agent.is_camera or agent.stats is None:
        return None
    stats: dict[str, Any] = dict(agent.stats)
    return {k: stats[k] for k in ("recording", *protocol.RECORDING_COUNTERS) if k in stats}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: BobbyConfigEntry) -> dict[str, Any]:
    """Return diagnostics for the hub entry."""
    hub = entry.runtime_data
    agents = {
        key: {
            "kind": a.kind,
            "agent_id": a.agent_id,
            "status": a.health.status,
            "connected": a.connected,
            "problems": list(a.problems),
            "failed_command": a.health.failed_command,
            "info": a.info,
            "state": a.state,
            "desired": a.desired.stored_fields(),
            "desired_not_reported": a.health.mismatch,
            "reported_problems": list(a.health.reported.values()),
            "stats": a.stats,
            "person": a.person.on if a.is_camera else None,
            "last_detection": a.last_detection,
            "snapshot_bytes": None if a.snapshot is None else len(a.snapshot),
            "preview_bytes": None if a.preview is None else len(a.preview),
            # The camera's spool: chunks waiting for the core's chunk_ack (docs/protocol.md).
            "spool": _spool(a),
            "last_clip": a.last_clip,
        }
        for key, a in sorted(hub.agents.items())
    }
    return async_redact_data(
        {
            "entry": {"data": dict(entry.data), "options": dict(entry.options)},
            "agents": agents,
            "invalid_messages": hub.invalid_messages,
            "recent_errors": list(hub.recent_errors),
            "recording": hub.recordings.diagnostics(),
            "agents_refused_over_limit": hub.refused_agents,
        },
        TO_REDACT,
    )
