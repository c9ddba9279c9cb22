"""`http:URL`: polls a JPEG snapshot URL, as IP cameras and ESP32-CAM firmwares offer.

Frames pass through untouched (the camera chose its size; re-encoding would cost the
Pi more than the network does). Credentials may sit in the URL
(`http://user:pass@cam/snapshot.jpg`): they are sent as HTTP basic auth and never
appear in `info` or in logs.
"""

from __future__ import annotations

import base64
import logging
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

from ...errors import ConfigError
from . import register
from .base import CaptureError, FrameSource, SourceOptions, jpeg_size

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

    @property
    def description(self) -> str:
        return f"http: {self.url}"  # credentials removed

    @property
    def size(self) -> tuple[int, int]:
        return self._size or (self.options.width, self.options.height)

    def _timeout(self) -> float:
        # Long enough for a slow camera, short enough to not stall the schedule for long.
        return min(MAX_TIMEOUT, max(MIN_TIMEOUT, 2.0 / self.fps))

    def read(self) -> bytes:
        request = urllib.request.Request(self.url, headers=self._headers)
        try:
            with self._opener.open(request, timeout=self._timeout()) as response:
                data: bytes = response.read(MAX_SNAPSHOT_BYTES + 1)
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            raise CaptureError(f"{self.url} answered HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise CaptureError(f"cannot fetch {self.url}: {reason}") from None
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
