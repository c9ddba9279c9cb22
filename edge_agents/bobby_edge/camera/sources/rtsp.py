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

Sub-stream / main-stream: most IP cameras serve a small second stream (e.g. 640×360).
Point `--source` at it for detection and `--record-stream` at the main stream: the main
stream is only demuxed (its packets go to the recorder as they are), never decoded.
See docs/sources.md.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ... import protocol
from ...config import ConfigError
from ...errors import StartupError
from ...redaction import redact_text
from . import register
from .base import SourceOptions, VideoOptions
from .live import LiveStream, StreamSource, StreamUnusable

if TYPE_CHECKING:
    from ..recording.packets import PacketSink

_LOGGER = logging.getLogger(__name__)

# Start quickly: a camera stream says what it is in its SDP and first keyframe.
PROBE_OPTIONS = {"analyzeduration": "1000000", "probesize": "1000000", "fflags": "nobuffer"}


@register("rtsp")
class RtspSource(StreamSource):
    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        self._secrets: tuple[str | None, ...] = (options.password,)
        self.url, self._open_url = self._urls(target)
        self._record_urls = self._urls(options.record_url) if options.record_url else None
        self._record_sink: PacketSink | None = None
        self._record_stream: LiveStream | None = None

    def _urls(self, target: str) -> tuple[str, str]:
        """(the URL without credentials, the URL to open with them quoted in)."""
        example = "e.g. rtsp://192.168.1.20:554/stream2"
        parts = urlsplit(target)
        if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
            raise ConfigError(f"RTSP source {redact_text(target)!r} needs a full URL, {example}")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(
                f"RTSP source {redact_text(target)!r}: the port is not a number, {example}"
            ) from None
        # The environment file's credentials win over any in the URL.
        username = (
            self.options.username if self.options.username is not None else unquote(parts.username or "")
        )
        password = (
            self.options.password if self.options.password is not None else unquote(parts.password or "")
        )
        self._secrets = (*self._secrets, password)
        host = f"[{parts.hostname}]" if ":" in str(parts.hostname) else str(parts.hostname)
        hostport = f"{host}:{port}" if port else host
        userinfo = ""
        if username:
            userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "") + "@"
        return (
            urlunsplit((parts.scheme, hostport, parts.path, parts.query, "")),
            urlunsplit((parts.scheme, userinfo + hostport, parts.path, parts.query, "")),
        )

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

    def open_container(self, url: str | None = None) -> Any:
        import av

        options = {
            **PROBE_OPTIONS,
            "rtsp_transport": self.options.transport,
            "timeout": str(int(self.options.timeout * 1_000_000)),  # socket I/O, µs
        }
        try:
            return av.open(
                url or self._open_url, options=options, timeout=(self.options.timeout, self.options.timeout)
            )
        except (
            av.error.HTTPUnauthorizedError,
            av.error.HTTPForbiddenError,
            av.error.HTTPNotFoundError,
            av.error.ProtocolNotFoundError,
        ) as err:
            raise StreamUnusable(self.explain(err)) from None

    # --- sub-stream for detection, main stream for recording ----------------------------

    def record_to(self, sink: PacketSink, video: VideoOptions) -> bool:
        if self._record_urls is None:
            return super().record_to(sink, video)  # record the stream detection watches
        self._record_sink = sink
        return True

    def open(self) -> None:
        super().open()
        if self._record_urls is None or self._record_sink is None:
            return
        clean, with_credentials = self._record_urls
        stream = LiveStream(
            f"{self.scheme} recording: {redact_text(clean, self._secrets)}",
            lambda: self.open_container(with_credentials),
            self.explain,
            fps=self.fps,
            size=(self.options.width, self.options.height),
            jpeg_quality=self.options.jpeg_quality,
            timeout=self.options.timeout,
            decode=False,  # its packets go to the recorder; nothing of it is decoded
        )
        stream.set_sink(self._record_sink)
        try:
            stream.start()
        except StreamUnusable as err:
            self.close()
            raise StartupError(f"cannot record {redact_text(clean, self._secrets)}: {err}") from None
        self._record_stream = stream

    def stream_info(self) -> dict[str, Any]:
        """Also `stream_url`: the stream to watch (the main one when recorded), without credentials,
        for a Home Assistant whose owner allows native video (docs/sources.md). Left out when
        its query holds a secret-looking key: `info` is retained, and other logins may read it."""
        clean = self._record_urls[0] if self._record_urls else self.url
        offer = {"stream_url": clean} if protocol.is_valid_stream_url(clean) else {}
        return {**super().stream_info(), **offer}

    @property
    def problem(self) -> str | None:
        recording = self._record_stream.problem if self._record_stream else None
        return super().problem or (f"recording stream: {recording}" if recording else None)

    def close(self) -> None:
        record_stream, self._record_stream = self._record_stream, None
        if record_stream is not None:
            record_stream.stop()
        super().close()


@register("rtsps")
class RtspsSource(RtspSource):
    """RTSP over TLS; the same in every other way."""
