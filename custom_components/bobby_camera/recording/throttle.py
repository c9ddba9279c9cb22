"""Log lines about bad chunks and a failing disk, at most one warning a minute per kind."""

from __future__ import annotations

import time
from typing import Any

from ..const import LOGGER

WARN_EVERY = 60.0  # seconds; repeats in between go to the debug log


class ThrottledLog:
    """A warning per kind of trouble per minute; the rest at debug level (never the payload)."""

    def __init__(self) -> None:
        """Nothing logged yet."""
        self._last: dict[str, float] = {}
        self.suppressed = 0

    def report(self, kind: str, message: str, *args: Any) -> None:
        """Log `message` as a warning unless this kind was warned about within the last minute."""
        now = time.monotonic()
        if now - self._last.get(kind, -WARN_EVERY) >= WARN_EVERY:
            self._last[kind] = now
            LOGGER.warning(message, *args)
        else:
            self.suppressed += 1
            LOGGER.debug(message, *args)
