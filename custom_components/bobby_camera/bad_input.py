"""Messages from the bus that do not follow the contract: counted, logged sparingly, never echoed.

A hostile or broken client can send thousands of messages a second on thousands of
topics. Each log line names the topic (shortened), the payload's size and the reason
(the protocol module's words, which never hold the payload); per period, a topic is
logged once and the log gets at most `lines_per_period` lines, then one line saying how
many were not logged. Memory stays bounded whatever the number of topics.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from .const import LOGGER

PERIOD: Final = 60.0  # seconds
LINES_PER_PERIOD: Final = 10
RECENT_KEPT: Final = 10  # for diagnostics
_TOPIC_SHOWN: Final = 120  # characters of a topic in a log line
_REASON_SHOWN: Final = 200


def shorten(text: str, limit: int) -> str:
    """A printable, bounded rendering of text from the bus (repr escapes control characters)."""
    shown = repr(text)[1:-1]
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."


class BadInputLog:
    """Counts invalid messages and logs a throttled line about some of them."""

    def __init__(
        self,
        *,
        period: float = PERIOD,
        lines_per_period: int = LINES_PER_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` returns monotonic seconds (injected by tests)."""
        self.count = 0
        self.recent: deque[str] = deque(maxlen=RECENT_KEPT)
        self._period = period
        self._lines_per_period = lines_per_period
        self._clock = clock
        self._window_start: float | None = None
        self._logged_topics: set[str] = set()  # at most lines_per_period entries
        self._suppressed = 0

    def report(self, topic: str, size: int, reason: str) -> None:
        """One invalid message: count it, and log it unless its topic or the period had enough."""
        self.count += 1
        shown_topic = shorten(topic, _TOPIC_SHOWN)
        shown_reason = shorten(reason, _REASON_SHOWN)
        self.recent.append(f"{shown_topic} ({size} bytes): {shown_reason}")
        now = self._clock()
        if self._window_start is None or now - self._window_start >= self._period:
            self._end_window()
            self._window_start = now
        if shown_topic in self._logged_topics or len(self._logged_topics) >= self._lines_per_period:
            self._suppressed += 1
            return
        self._logged_topics.add(shown_topic)
        LOGGER.warning(
            "Ignoring a message on %s (%d bytes) that does not follow docs/protocol.md: %s",
            shown_topic,
            size,
            shown_reason,
        )

    def _end_window(self) -> None:
        if self._suppressed:
            LOGGER.warning(
                "%d more invalid messages in the last %g s were not logged (see the diagnostics)",
                self._suppressed,
                self._period,
            )
        self._suppressed = 0
        self._logged_topics.clear()


# Home Assistant's MQTT client logs a WARNING with up to 8 KB of the payload for every
# message it cannot decode as text for a text subscription. On our topics that is the
# manifest's discovery subscription (`<base>/camera/+/info`), which HA keeps for as long
# as it runs, and any login may write its own `info`: 500 such messages were +4.4 MB of
# log. The hub's own subscriptions (encoding=None) see every such message and count it
# as invalid; while a hub runs, HA's line about it is dropped.
MQTT_CLIENT_LOGGER: Final = "homeassistant.components.mqtt.client"
_UNDECODABLE: Final = "Can't decode payload"


class UndecodableFilter(logging.Filter):
    """Drops HA's MQTT client's "Can't decode payload" lines for topics under a base topic."""

    def __init__(self, base_topic: str) -> None:
        """Drop the lines about topics under `base_topic`."""
        super().__init__()
        self._prefix = f"{base_topic}/"

    def filter(self, record: logging.LogRecord) -> bool:
        """False (drop) for an undecodable payload on one of our topics."""
        args = record.args
        if not (isinstance(record.msg, str) and record.msg.startswith(_UNDECODABLE)):
            return True
        if not (isinstance(args, tuple) and len(args) >= 2 and isinstance(args[1], str)):
            return True
        return not args[1].startswith(self._prefix)
