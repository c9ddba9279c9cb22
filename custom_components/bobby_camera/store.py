"""What the hub keeps across Home Assistant restarts, one file per config entry.

- the desired state of every agent (Home Assistant owns it: docs/architecture.md);
- the last valid `status`, `info` and `state` of every agent, so that retained garbage
  on the broker cannot take a known agent's entities away after a restart;
- the agents the owner removed, so their echoes and stray messages do not bring them
  back (only the agent coming back `online` does);
- the alarm panel's armed mode (arming.py).

What is read back is checked again by the protocol module: the file is ours, but a
hand-edited or older file must not put anything unvalidated into the registries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from . import protocol
from .agent import parse_agent_key
from .const import ARMED_MODES, DOMAIN, LOGGER
from .desired import CORE_ONLY, DesiredState
from .zones import check_zones

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 2.0  # seconds: a burst of messages is one write
# Removed agents remembered; the oldest are dropped first (their retained topics are clear).
MAX_FORGOTTEN: Final = 1024
REMEMBERED_CHANNELS: Final = ("status", "info", "state")


class HubStore:
    """Desired state, last good reports and removed agents of one hub entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Nothing is read until async_load."""
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")
        self.desired: dict[str, DesiredState] = {}
        self.last_good: dict[str, dict[str, Any]] = {}
        self._forgotten: dict[str, None] = {}  # ordered set
        self.armed: str | None = None  # the alarm panel's mode the owner chose (None: disarmed)

    async def async_load(self) -> None:
        """Read the file, keeping only what still passes the protocol's checks."""
        data = await self._store.async_load() or {}
        for key, fields in _mapping(data.get("desired")).items():
            if (parsed := parse_agent_key(key)) is not None and (desired := _desired(parsed[0], fields)):
                self.desired[key] = desired
        for key, reports in _mapping(data.get("last_good")).items():
            if (parsed := parse_agent_key(key)) is not None:
                self.last_good[key] = _last_good(*parsed, _mapping(reports))
        for key in data.get("forgotten") or ():
            if isinstance(key, str) and parse_agent_key(key) is not None:
                self._forgotten[key] = None
        self.armed = data.get("armed") if data.get("armed") in ARMED_MODES else None

    # --- desired state ----------------------------------------------------------------

    def desired_for(self, key: str) -> DesiredState:
        """The agent's desired state (one object: the agent holds it, the store saves it)."""
        return self.desired.setdefault(key, DesiredState())

    # --- last good reports ------------------------------------------------------------

    @callback
    def remember(self, key: str, channel: str, payload: Any) -> None:
        """A valid status, info or state arrived: keep it if it differs."""
        reports = self.last_good.setdefault(key, {})
        if reports.get(channel) != payload:
            reports[channel] = payload
            self.async_schedule_save()

    # --- removed agents ---------------------------------------------------------------

    def is_forgotten(self, key: str) -> bool:
        """Whether the owner removed this agent (and it has not come back online since)."""
        return key in self._forgotten

    @callback
    def forget(self, key: str) -> None:
        """The owner removed the agent: drop what is known of it, ignore its echoes."""
        self.desired.pop(key, None)
        self.last_good.pop(key, None)
        self._forgotten.pop(key, None)
        self._forgotten[key] = None
        while len(self._forgotten) > MAX_FORGOTTEN:
            del self._forgotten[next(iter(self._forgotten))]
        self.async_schedule_save()

    @callback
    def revive(self, key: str) -> None:
        """The removed agent came back online: it is an agent again."""
        if self._forgotten.pop(key, 0) is None:
            self.async_schedule_save()

    # --- saving -----------------------------------------------------------------------

    @callback
    def async_schedule_save(self) -> None:
        """Write soon (one write for a burst of changes; HA writes pending saves at stop)."""
        self._store.async_delay_save(self._data, SAVE_DELAY)

    async def async_save(self) -> None:
        """Write now (the entry unloads: a reload must read what the hub knew)."""
        await self._store.async_save(self._data())

    async def async_remove(self) -> None:
        """Delete the file (the config entry is deleted)."""
        await self._store.async_remove()

    def _data(self) -> dict[str, Any]:
        return {
            "desired": {k: d.stored_fields() for k, d in self.desired.items() if d.stored_fields()},
            "last_good": self.last_good,
            "forgotten": list(self._forgotten),
            "armed": self.armed,
        }


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _desired(kind: str, fields: object) -> DesiredState | None:
    mapping = _mapping(fields)
    try:
        zones = check_zones(mapping["zones"]) if "zones" in mapping else None
        sent = {k: v for k, v in mapping.items() if k not in CORE_ONLY}
        command: Mapping[str, Any] = {}
        if sent:  # zones alone are not a command
            command = protocol.check_command(kind, {"v": protocol.SCHEMA_VERSION, "id": "stored", **sent})
    except protocol.ProtocolError as err:
        LOGGER.warning("Ignoring a stored desired state for a %s: %s", kind, err)
        return None
    desired = DesiredState()
    desired.update(command)
    desired.zones = zones
    return desired


def _last_good(kind: str, agent_id: str, reports: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for channel in REMEMBERED_CHANNELS:
        if channel not in reports:
            continue
        raw = reports[channel]
        payload = raw.encode() if isinstance(raw, str) else protocol.encode(_mapping(raw))
        try:
            _topic, kept[channel] = protocol.parse_message(
                protocol.build_topic(protocol.DEFAULT_BASE_TOPIC, kind, agent_id, channel), payload
            )
        except protocol.ProtocolError as err:
            LOGGER.warning("Ignoring the stored %s of %s %s: %s", channel, kind, agent_id, err)
    return kept
