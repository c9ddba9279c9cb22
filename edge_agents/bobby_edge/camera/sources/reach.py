"""Is a network camera there? A TCP connect to its host and port, nothing more.

While a camera is away (rebooting, unplugged, out of Wi-Fi), sources knock with this
cheap check every PROBE_INTERVAL instead of a full RTSP session or HTTP request, and
make the full connection as soon as the port answers: back within about a second of
the camera's return, however long it was away, and no login attempts piling up in the
camera's log meanwhile.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

PROBE_INTERVAL = 1.0  # seconds between two reachability checks while a camera is away
PROBE_TIMEOUT = 1.0  # a connect that takes longer counts as no answer
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
HISTORY = 1024  # (time, what, ok) events kept for tests: 17 min of probes


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float  # time.monotonic() when it started
    kind: str  # "probe" (a TCP connect) or "connect" (the full session or request)
    ok: bool


class Reach:
    """The reachability check of one camera address, and a short history of attempts."""

    def __init__(self, host: str, port: int, timeout: float = PROBE_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.history: deque[Attempt] = deque(maxlen=HISTORY)
        self.probes = 0

    @classmethod
    def for_url(cls, url: str) -> Reach | None:
        """For a URL with a host (rtsp://, http://); None when there is nothing to knock at."""
        parts = urlsplit(url)
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return None
        if not parts.hostname or port is None:
            return None
        return cls(parts.hostname, port)

    def answers(self) -> bool:
        """One TCP connect (and close); True when the port accepted it."""
        started = time.monotonic()
        self.probes += 1
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout):
                ok = True
        except OSError:
            ok = False
        self.history.append(Attempt(started, "probe", ok))
        return ok

    def note_connect(self, started: float, ok: bool) -> None:
        """Record a full connection attempt (for the history tests and stats read)."""
        self.history.append(Attempt(started, "connect", ok))
