"""A timer for a deadline that moves often, such as "30 s after the last detection"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time


class Alarm:
    """Calls `action` at (or after) a deadline.

    A later deadline keeps the timer already set: at 200 detections a second, moving the
    deadline costs nothing, and `action` re-checks when it runs (then the owner sets the
    next deadline). Only an earlier deadline reschedules.
    """

    def __init__(self, hass: HomeAssistant, action: Callable[[], None]) -> None:
        """Nothing is scheduled until `set`."""
        self._hass = hass
        self._action = action
        self._due: datetime | None = None
        self._cancel: CALLBACK_TYPE | None = None

    @callback
    def set(self, due: datetime | None) -> None:
        """Run `action` at `due` or earlier; None: no deadline any more."""
        if due is None:
            self.cancel()
        elif self._due is None or due < self._due:
            self.cancel()
            self._due = due
            self._cancel = async_track_point_in_utc_time(self._hass, self._fire, due)

    @callback
    def cancel(self) -> None:
        """Stop the timer, if one is set."""
        if self._cancel is not None:
            self._cancel()
        self._cancel = self._due = None

    @callback
    def _fire(self, _now: datetime) -> None:
        self._cancel = self._due = None
        self._action()
