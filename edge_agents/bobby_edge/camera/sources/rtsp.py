"""`rtsp://…` and `rtsps://…`: an IP camera's RTSP stream through PyAV (FFmpeg).

    --source rtsp://192.168.1.20:554/stream2
    BOBBY_SOURCE_USERNAME=viewer BOBBY_SOURCE_PASSWORD=…   (in /etc/bobby/camera.env)

RTSP over TCP by default (`rtsp_transport: udp` to change): no lost packets smearing
frames, one connection through NAT and firewalls. The stream is read in a thread
(live.py); a stalled or dropped stream is noticed within about twice `stream_timeout`
and reconnected with a capped backoff, and the reason shows in the agent's stats.

Credentials come from BOBBY_SOURCE_USERNAME / BOBBY_SOURCE_PASSWORD (or the URL) and
never appear in `info`, in logs or in `--validate-config`: everything said about the
stream goes through bobby_edge.redaction.

Sub-stream / main-stream: most IP cameras serve a small second stream (e.g. 640×360);
detect on it, record the main one (docs/sources.md).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ...config import ConfigError
from ...redaction import redact_text
from . import register
from .base import SourceOptions
from .live import StreamSource, StreamUnusable

_LOGGER = logging.getLogger(__name__)

# Start quickly: a camera stream says what it is in its SDP and first keyframe.
PROBE_OPTIONS = {"analyzeduration": "1000000", "probesize": "1000000", "fflags": "nobuffer"}


@register("rtsp")
class RtspSource(StreamSource):
    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        example = "e.g. rtsp://192.168.1.20:554/stream2"
        parts = urlsplit(target)
        if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
            raise ConfigError(f"source {redact_text(target)!r} needs a full URL, {example}")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(
                f"source {redact_text(target)!r}: the port is not a number, {example}"
            ) from None
        # The environment file's credentials win over any in the URL.
        username = options.username if options.username is not None else unquote(parts.username or "")
        password = options.password if options.password is not None else unquote(parts.password or "")
        host = f"[{parts.hostname}]" if ":" in str(parts.hostname) else str(parts.hostname)
        hostport = f"{host}:{port}" if port else host
        self.url = urlunsplit((parts.scheme, hostport, parts.path, parts.query, ""))  # no credentials
        userinfo = ""
        if username:
            userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "") + "@"
        self._open_url = urlunsplit((parts.scheme, userinfo + hostport, parts.path, parts.query, ""))
        self._secrets = (password,)

    @property
    def description(self) -> str:
        return f"{self.scheme}: {redact_text(self.url, self._secrets)}"

    def explain(self, err: BaseException) -> str:
        import av

        text = err.strerror if isinstance(err, av.FFmpegError) and err.strerror else str(err)
        if isinstance(err, av.error.HTTPUnauthorizedError):
            text = (
                "the camera refused the user name or password (401 Unauthorized): set "
                "BOBBY_SOURCE_USERNAME and BOBBY_SOURCE_PASSWORD in the environment file"
            )
        elif isinstance(err, av.error.HTTPForbiddenError):
            text = "the camera forbids this user to watch the stream (403 Forbidden)"
        elif isinstance(err, av.error.HTTPNotFoundError):
            path = urlsplit(self.url).path or "/"
            text = f"the camera has no stream at {path} (404 Not Found): check the path in its manual"
        elif isinstance(err, av.error.ConnectionRefusedError):
            text = "connection refused: is the camera on, and RTSP enabled on that port?"
        elif isinstance(err, av.error.ExitError | TimeoutError):
            text = f"no answer within {self.options.timeout:g} s"
        return redact_text(text, self._secrets)

    def open_container(self) -> Any:
        import av

        options = {
            **PROBE_OPTIONS,
            "rtsp_transport": self.options.transport,
            "timeout": str(int(self.options.timeout * 1_000_000)),  # socket I/O, µs
        }
        try:
            return av.open(
                self._open_url, options=options, timeout=(self.options.timeout, self.options.timeout)
            )
        except (
            av.error.HTTPUnauthorizedError,
            av.error.HTTPForbiddenError,
            av.error.HTTPNotFoundError,
            av.error.ProtocolNotFoundError,
        ) as err:
            raise StreamUnusable(self.explain(err)) from None


@register("rtsps")
class RtspsSource(RtspSource):
    """RTSP over TLS; the same in every other way."""
