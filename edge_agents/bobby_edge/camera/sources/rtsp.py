"""`rtsp://…` and `rtsps://…`: an IP camera's RTSP stream through PyAV (FFmpeg).

    --source rtsp://192.168.1.20:554/stream2
    BOBBY_SOURCE_USERNAME=viewer BOBBY_SOURCE_PASSWORD=…   (in /etc/bobby/camera.env)

RTSP over TCP by default (`rtsp_transport: udp` to change): no lost packets smearing
frames, one connection through NAT and firewalls. The stream is read in a thread
(live.py); a stalled or dropped stream is noticed within about twice `stream_timeout`
and the reason shows in the agent's stats. While the camera is away its port is checked
every second (a TCP connect, no RTSP session) and the stream reopened as soon as it
answers: frames again about 2 s after a reboot, however long it took.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import voluptuous as vol

from ... import protocol
from ...errors import ConfigError, StartupError
from ...options import option, secret
from ...redaction import redact_text, redact_url
from . import register
from .base import SourceOptions, VideoOptions
from .live import LiveStream, StreamSource, StreamUnusable
from .reach import Reach

if TYPE_CHECKING:
    from ..recording.packets import PacketSink

_LOGGER = logging.getLogger(__name__)

# Start quickly: a camera stream says what it is in its SDP and first keyframe.
PROBE_OPTIONS = {"analyzeduration": "1000000", "probesize": "1000000", "fflags": "nobuffer"}


@dataclass(frozen=True, slots=True)
class RtspOptions:
    """The RTSP source's own options, declared here once. Credentials only from YAML or the
    environment file (BOBBY_SOURCE_USERNAME / BOBBY_SOURCE_PASSWORD): no flags."""

    source_username: str | None = option(None, check=vol.Any(None, str))
    source_password: str | None = secret()
    rtsp_transport: str = option(
        "tcp",  # no lost UDP packets smearing frames, one connection through NAT and firewalls
        check=vol.All(vol.Lower, vol.In(["tcp", "udp"])),
        help="tcp or udp (default {default})",
    )
    record_stream: str | None = option(
        None,
        check=vol.Any(None, str),
        metavar="URL",
        help="RTSP URL to record (an IP camera's main stream) while --source is its sub-stream",
    )

    def __repr__(self) -> str:
        # What `--validate-config` prints: no password, the recorded URL without credentials.
        shown = redact_url(self.record_stream) if self.record_stream else None
        return (
            f"RtspOptions(source_username={self.source_username!r}, "
            f"rtsp_transport={self.rtsp_transport!r}, record_stream={shown!r})"
        )


@register("rtsp")
class RtspSource(StreamSource):
    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        self.rtsp = options.own_options(RtspOptions)
        self._secrets: tuple[str | None, ...] = (self.rtsp.source_password,)
        self.url, self._open_url = self._urls(target)
        self._record_urls = self._urls(self.rtsp.record_stream) if self.rtsp.record_stream else None
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
            self.rtsp.source_username
            if self.rtsp.source_username is not None
            else unquote(parts.username or "")
        )
        password = (
            self.rtsp.source_password
            if self.rtsp.source_password is not None
            else unquote(parts.password or "")
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

    def reach(self) -> Reach | None:
        return Reach.for_url(self.url)

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
            text = f"no answer within {self.timeout:g} s"
        return redact_text(text, self._secrets)

    def open_container(self, url: str | None = None) -> Any:
        import av

        options = {
            **PROBE_OPTIONS,
            "rtsp_transport": self.rtsp.rtsp_transport,
            "timeout": str(int(self.timeout * 1_000_000)),  # socket I/O, µs
        }
        try:
            return av.open(url or self._open_url, options=options, timeout=(self.timeout, self.timeout))
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
            timeout=self.timeout,
            decode=False,  # its packets go to the recorder; nothing of it is decoded
            reach=Reach.for_url(clean),
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
