"""The dispatcher signals of one hub entry: the hub's parts send them, entities listen."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .agent import Agent
from .const import DOMAIN


class Signals:
    """Names and sends the signals of one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Signals are named after the entry, so two entries never hear each other."""
        self._hass = hass
        self._prefix = f"{DOMAIN}_{entry_id}"

    @property
    def new_agent(self) -> str:
        """Sent with an Agent when it appears or gains entities."""
        return f"{self._prefix}_new_agent"

    @property
    def hub_update(self) -> str:
        """Sent on any change that the hub switch shows."""
        return f"{self._prefix}_update"

    @property
    def fleet_update(self) -> str:
        """Sent when detection demand or capacity changes (capacity.py)."""
        return f"{self._prefix}_fleet"

    @property
    def arming(self) -> str:
        """Sent when the alarm panel's state or its culprits change."""
        return f"{self._prefix}_arming"

    def update(self, agent: Agent) -> str:
        """Sent with the channel (None for timers) when the state of one agent changes."""
        return f"{self._prefix}_update_{agent.key}"

    def person(self, agent: Agent) -> str:
        """Sent with (event type, attributes) on a camera's person transition or finished clip."""
        return f"{self._prefix}_person_{agent.key}"

    def problem(self, agent: Agent) -> str:
        """Sent with (event type, attributes) when the problems of an agent change."""
        return f"{self._prefix}_problem_{agent.key}"

    @callback
    def refresh(self, agent: Agent, channel: str | None = None, *, hub_wide: bool = True) -> None:
        """Refresh the agent's entities that read `channel` (None: all of them), and the hub switch."""
        async_dispatcher_send(self._hass, self.update(agent), channel)
        if hub_wide:
            async_dispatcher_send(self._hass, self.hub_update)

    @callback
    def new(self, agent: Agent) -> None:
        """Tell the platforms that the agent exists (or gained entities)."""
        async_dispatcher_send(self._hass, self.new_agent, agent)

    @callback
    def send(self, signal: str, *args: object) -> None:
        """Send one of the signals above with its arguments."""
        async_dispatcher_send(self._hass, signal, *args)
