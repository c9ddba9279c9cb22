"""Throttled log lines: the one place the agents and the integration rate-limit a message
that can repeat (the integration carries an exact copy: scripts/sync-protocol).

A broken camera, a hostile publisher or a refused ACL can produce the same complaint many
times a second; journald must stay readable and the disk must not fill. A `LogThrottle`
lets one line per key through per period, counts the ones it holds back and says how many
when it logs again ("... (12 more since the last report)"). Keys are whatever identifies
one complaint (a problem code, a camera id): one noisy camera never hides another. The
number of keys is capped (oldest forgotten first) so hostile ids cannot grow memory.

Callers log what is wrong with an input (topic, size, reason), never the input itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

BAD_INPUT_EVERY = 10.0  # seconds between repeated lines about bad input (frames, commands)
MAX_KEYS = 256  # keys remembered at most; beyond, the least recently logged is forgotten


@dataclass(slots=True)
class _Key:
    last: float
    held_back: int = 0


class LogThrottle:
    """At most one line per key every `period` seconds; thread-safe."""

    def __init__(
        self,
        logger: logging.Logger,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.logger = logger
        self.period = period
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: OrderedDict[Hashable, _Key] = OrderedDict()

    def held_back(self, key: Hashable = None) -> int:
        """Lines held back for `key` since its last line."""
        with self._lock:
            entry = self._keys.get(key)
            return entry.held_back if entry else 0

    def log(
        self,
        level: int,
        message: str,
        *args: Any,
        key: Hashable = None,
        exc_info: bool = False,
        stacklevel: int = 2,  # the record names the line that called us, not this module
    ) -> bool:
        """Log `message % args` unless `key` logged within the period; True when it was logged.

        The message comes first (as with `logging`, so linters check its arguments).
        """
        now = self._clock()
        with self._lock:
            entry = self._keys.get(key)
            if entry is not None and now - entry.last < self.period:
                entry.held_back += 1
                return False
            held_back = entry.held_back if entry else 0
            self._keys[key] = _Key(now)
            self._keys.move_to_end(key)
            while len(self._keys) > self._max_keys:
                self._keys.popitem(last=False)
        if held_back:
            message = f"{message} ({held_back} more since the last report)"
        self.logger.log(level, message, *args, exc_info=exc_info, stacklevel=stacklevel)
        return True

    def warning(self, message: str, *args: Any, key: Hashable = None) -> bool:
        return self.log(logging.WARNING, message, *args, key=key, stacklevel=3)

    def error(self, message: str, *args: Any, key: Hashable = None) -> bool:
        return self.log(logging.ERROR, message, *args, key=key, stacklevel=3)

    def exception(self, message: str, *args: Any, key: Hashable = None) -> bool:
        """An error with the current exception's traceback (call from an `except` block)."""
        return self.log(logging.ERROR, message, *args, key=key, exc_info=True, stacklevel=3)
