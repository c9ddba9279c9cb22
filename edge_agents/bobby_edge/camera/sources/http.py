"""`http:URL`: polls a JPEG snapshot URL, as IP cameras and ESP32-CAM firmwares offer.

Frames pass through untouched (the camera chose its size; re-encoding would cost the
Pi more than the network does). Credentials may sit in the URL
(`http://user:pass@cam/snapshot.jpg`): they are sent as HTTP basic auth and never
appear in `info` or in logs.

A camera that does not answer (connection refused, timed out, no route) is "away": from
then on each capture first knocks with a TCP connect to its port (reach.py), at most every
PROBE_INTERVAL, and makes the full request only once the port answers. Back within about
a second of its return, without a request per frame meanwhile.
"""

from __future__ import annotations

import base64
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

from ...errors import ConfigError
from . import register
from .base import CaptureError, FrameSource, SourceOptions, jpeg_size
from .reach import PROBE_INTERVAL, Reach

_LOGGER = logging.getLogger(__name__)

MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
MIN_TIMEOUT, MAX_TIMEOUT = 1.0, 10.0


@register("http")
class HttpSnapshotSource(FrameSource):
    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"source http:{target!r} needs a full URL, e.g. http:http://192.168.1.20/capture"
            )
        netloc = parts.netloc.rpartition("@")[2]  # without user:password
        self.url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        self._headers = {"Accept": "image/jpeg", "User-Agent": "bobby-edge"}
        if parts.username is not None:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        self._size: tuple[int, int] | None = None
        self._opener = urllib.request.build_opener()
        self.reach = Reach.for_url(self.url)
        self._away = False  # the last request found nobody at the address
        self._last_probe = -float("inf")

    @property
    def description(self) -> str:
        return f"http: {self.url}"  # credentials removed

    @property
    def size(self) -> tuple[int, int]:
        return self._size or (self.options.width, self.options.height)

    def _timeout(self) -> float:
        # Long enough for a slow camera, short enough to not stall the schedule for long.
        return min(MAX_TIMEOUT, max(MIN_TIMEOUT, 2.0 / self.fps))

    def _knock(self) -> None:
        """While the camera is away: a TCP check at most every PROBE_INTERVAL, the full
        request only after it answered (CaptureError otherwise)."""
        reach = self.reach
        if not self._away or reach is None:
            return
        now = time.monotonic()
        if now - self._last_probe < PROBE_INTERVAL:
            raise CaptureError(f"{self.url} does not answer (checking every {PROBE_INTERVAL:g} s)")
        self._last_probe = now
        if not reach.answers():
            raise CaptureError(f"{self.url} does not answer (checking every {PROBE_INTERVAL:g} s)")

    def read(self) -> bytes:
        self._knock()
        request = urllib.request.Request(self.url, headers=self._headers)
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=self._timeout()) as response:
                data: bytes = response.read(MAX_SNAPSHOT_BYTES + 1)
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            self._reached(started, ok=True)  # it answered: there, but unwilling
            raise CaptureError(f"{self.url} answered HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError) as err:
            self._reached(started, ok=False)
            reason = getattr(err, "reason", err)
            raise CaptureError(f"cannot fetch {self.url}: {reason}") from None
        self._reached(started, ok=True)
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise CaptureError(f"{self.url} sent more than {MAX_SNAPSHOT_BYTES} bytes: not a snapshot URL?")
        try:
            self._size = jpeg_size(data)
        except CaptureError as err:
            raise CaptureError(
                f"{self.url} did not send a JPEG (Content-Type {content_type or 'none'}): {err}; "
                "point the source at the camera's still-image URL"
            ) from None
        return data

    def _reached(self, started: float, *, ok: bool) -> None:
        if self.reach is not None:
            self.reach.note_connect(started, ok)
        if not ok and not self._away:
            self._last_probe = -float("inf")  # the first check at once: maybe only a glitch
        self._away = not ok
