"""Home Assistant's own connection to the broker: an outage is one hub problem, never one per agent.

While the connection is down nothing is known about the agents: the hub suspends their
deadlines (`on_lost`). After a grace, one repair says since when the broker is unreachable.
When the connection returns, Home Assistant subscribes again and the retained reports
arrive (`on_back`); BROKER_SETTLE s later the agents' deadlines run again, counted from
then (`on_settled`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .const import BROKER_GRACE, BROKER_SETTLE, ISSUE_BROKER, LOGGER
from .problems import create_issue, delete_issue


class BrokerConnection:
    """Follows Home Assistant's MQTT connection (`on_connection`) and tells the hub what changed."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        clock: Callable[[], datetime],
        on_lost: Callable[[], None],
        on_back: Callable[[], None],
        on_settled: Callable[[], None],
    ) -> None:
        self.hass = hass
        self._clock = clock
        self._on_lost = on_lost
        self._on_back = on_back
        self._on_settled = on_settled
        self.cut_off_since: datetime | None = None
        self._timers: dict[str, CALLBACK_TYPE] = {}  # the outage's repair, the settling after it

    @property
    def cut_off(self) -> bool:
        """Whether Home Assistant itself has no connection to the broker now."""
        return self.cut_off_since is not None

    @callback
    def on_connection(self, connected: bool) -> None:
        """What `mqtt.async_subscribe_connection_status` calls (a repeated report changes nothing)."""
        self.async_stop()
        if not connected:
            if self.cut_off_since is None:
                self.cut_off_since = self._clock()
            self._on_lost()
            self._timers["grace"] = async_call_later(self.hass, BROKER_GRACE, self._grace_over)
            return
        if self.cut_off_since is not None:
            LOGGER.info("Back on the MQTT broker after %s", self._clock() - self.cut_off_since)
        self.cut_off_since = None
        delete_issue(self.hass, ISSUE_BROKER)
        self._on_back()
        self._timers["settle"] = async_call_later(self.hass, BROKER_SETTLE, self._settled)

    @callback
    def async_stop(self) -> None:
        """Cancel the timers."""
        while self._timers:
            self._timers.popitem()[1]()

    @callback
    def _grace_over(self, _now: datetime) -> None:
        self._timers.pop("grace", None)
        if self.cut_off_since is not None:
            since = dt_util.as_local(self.cut_off_since).strftime("%Y-%m-%d %H:%M:%S")
            create_issue(self.hass, ISSUE_BROKER, ISSUE_BROKER, {"since": since})

    @callback
    def _settled(self, _now: datetime) -> None:
        self._timers.pop("settle", None)
        self._on_settled()
