"""Problems an agent must report instead of suffering in silence (stats `problems`).

A broker with a least-privilege ACL answers a forbidden SUBSCRIBE or QoS 1 PUBLISH
with an MQTT v5 reason code (0x87 Not authorized) and drops it. paho does not raise:
without this module a detector limited to its own topics gets no frames and says
nothing, and its refused detections vanish. Each refusal is counted, logged (at most
once a minute per problem, naming the topic and the fix) and listed in the agent's stats
until the same operation on that channel succeeds again.

Problem codes are stable (Home Assistant keys repairs on them), see docs/protocol.md:
`not_authorised_<publish|subscribe>_<channel>`, `refused_<publish|subscribe>_<channel>`
(any other refusal reason) and `state_not_saved`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from .logthrottle import LogThrottle

_LOGGER = logging.getLogger(__name__)

NOT_AUTHORISED = 0x87  # MQTT v5 reason code "Not authorized"
LOG_EVERY = 60.0  # seconds between repeated log lines about one problem
STATE_NOT_SAVED = "state_not_saved"


def channel_of(topic_or_filter: str) -> str:
    """`bobby/camera/+/frame` → `frame`: the protocol channel a topic is about."""
    return topic_or_filter.rsplit("/", 1)[-1] or "unknown"


@dataclass(slots=True)
class _Problem:
    code: str
    topic: str | None
    detail: str
    count: int = 0
    active: bool = True


class Problems:
    """The problems of one agent, thread-safe (paho's thread raises, the heartbeat reports)."""

    def __init__(self, username: str | None) -> None:
        self._username = username
        self._lock = threading.Lock()
        self._problems: dict[str, _Problem] = {}
        self._log = LogThrottle(_LOGGER, LOG_EVERY)  # keyed by problem code

    def refused(self, operation: str, topic: str, reason_value: int, reason_name: str) -> None:
        """The broker refused a `publish` or `subscribe` on `topic`."""
        kind = "not_authorised" if reason_value == NOT_AUTHORISED else "refused"
        code = f"{kind}_{operation}_{channel_of(topic)}"
        access = "write" if operation == "publish" else "read"
        login = f"user {self._username!r}" if self._username else "this agent's login"
        fix = (
            f"give {login} {access} access to {topic} in the broker's ACL (see docs/mosquitto/acl)"
            if kind == "not_authorised"
            else "see the broker's log"
        )
        detail = f"the broker refused to let this agent {operation} {topic} ({reason_name}): {fix}"
        with self._lock:
            problem = self._problems.get(code)
            if problem is None:
                problem = self._problems[code] = _Problem(code, topic, detail)
            problem.count += 1
            problem.active, problem.topic, problem.detail = True, topic, detail
        self._log.error("%s", detail, key=code)

    def accepted(self, operation: str, topic: str) -> None:
        """The same operation on this channel went through: its refusal is over."""
        channel = channel_of(topic)
        with self._lock:
            for kind in ("not_authorised", "refused"):
                problem = self._problems.get(f"{kind}_{operation}_{channel}")
                if problem is not None and problem.active:
                    problem.active = False
                    _LOGGER.info("the broker accepts %s on %s again", operation, topic)

    def set(self, code: str, active: bool, detail: str = "") -> None:
        """A problem the agent finds itself (e.g. `state_not_saved`)."""
        with self._lock:
            problem = self._problems.get(code)
            if active:
                if problem is None:
                    problem = self._problems[code] = _Problem(code, None, detail)
                problem.count += 1
                problem.active, problem.detail = True, detail
            elif problem is not None:
                problem.active = False

    def report(self) -> list[dict[str, Any]]:
        """The problems in force, for the stats' `problems` list (empty when all is well)."""
        with self._lock:
            return [
                {
                    "code": p.code,
                    "count": p.count,
                    **({"topic": p.topic[:256]} if p.topic else {}),
                    "detail": p.detail[:256],
                }
                for p in self._problems.values()
                if p.active
            ]
