"""A live stream read by PyAV in its own thread: an RTSP camera, a USB webcam.

A live stream must be drained at the camera's pace whatever the agent's frame rate, or
the camera's buffers fill and frames go stale. So one reader thread demuxes every
packet, and:

- hands H.264/H.265 packets as they are to the recording packet sink, when one is set
  (recording remuxes the camera's own video: no re-encode);
- decodes only what detection needs: every reference frame when it must (P-frames need
  their predecessors) but nothing more — B-frames are skipped, and when keyframes come at
  least as often as frames are sent, only keyframes are decoded. A decoded frame is only
  kept (the newest one); scaling and JPEG encoding happen in `latest_jpeg`, called by the
  agent at its own rate. MJPEG (webcams) is not decoded at all: the JPEG passes through;
- notices a lost or stalled stream (no packet within the read timeout, or packets but
  no picture) and reconnects, reporting the problem until frames flow again. A network
  camera that is away is only knocked at (a TCP connect to its port every second,
  reach.py) and reconnected the moment it answers; while its port answers but the stream
  fails, the retries back off (doubling, capped).

The first connection is made in `start()`, in the caller's thread, so a wrong password or
a missing device is a clear error at startup; later losses are retried forever.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import StartupError
from ...options import number
from ..recording.packets import CODECS as RECORDABLE_CODECS
from ..recording.packets import EncodedPacket, PacketSink, StreamFormat
from .base import CaptureError, FrameSource, SourceOptions, VideoOptions, fit_jpeg, fit_within, jpeg_size
from .reach import PROBE_INTERVAL, Reach

_LOGGER = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0  # seconds before the first reconnection attempt
BACKOFF_MAX = 30.0  # ... doubling up to this, while the camera's port answers (see _wait_for_retry)
KEYFRAME_HISTORY = 8  # keyframe intervals kept to decide whether keyframes alone suffice
STOP_WAIT = 2.0  # seconds `stop()` waits for the reader thread
CLOCK_RESYNC = 2.0  # seconds of drift between stream time and wall clock before re-anchoring


class StreamUnusable(RuntimeError):
    """The stream cannot work as configured (wrong password, no such path or device)."""


@dataclass(frozen=True, slots=True)
class StreamDetails:
    codec: str
    width: int
    height: int
    fps: float | None
    extradata: bytes | None


@dataclass(frozen=True, slots=True)
class _Latest:
    seq: int
    frame: Any  # an av.VideoFrame, or None when `jpeg` holds the frame as the camera sent it
    jpeg: bytes | None


Opener = Callable[[], Any]  # opens and returns a PyAV input container (raises on failure)
ErrorText = Callable[[BaseException], str]  # an exception → a message without secrets


class LiveStream:
    """The reader thread and what it shares with the agent's capture thread."""

    def __init__(
        self,
        name: str,
        opener: Opener,
        explain: ErrorText,
        *,
        fps: float,
        size: tuple[int, int],
        jpeg_quality: int,
        timeout: float,
        decode: bool = True,
        reach: Reach | None = None,
    ) -> None:
        self.name = name  # for logs; never holds a secret
        self.reach = reach  # the camera's TCP check while it is away; None: plain backoff
        self.decode = decode  # False: a stream only recorded (packets to the sink, no pictures)
        self._opener = opener
        self._explain = explain
        self.fps = fps
        self.size_limit = size
        self.jpeg_quality = jpeg_quality
        self.timeout = timeout
        self._cond = threading.Condition()
        self._latest: _Latest | None = None
        self._returned_seq = 0
        self._stop = threading.Event()
        self._nudge = threading.Event()
        self._thread: threading.Thread | None = None
        self._delivered = False  # the current connection gave at least one picture
        self._sink: PacketSink | None = None
        self._sink_format: StreamFormat | None = None
        self._b_frames_warned = False
        self.details: StreamDetails | None = None
        self.frame_size: tuple[int, int] | None = None  # of the frames `latest_jpeg` returns
        self.problem: str | None = None
        self.reconnects = 0
        self.frames_decoded = 0
        self.packets_read = 0

    # --- the agent's side -----------------------------------------------------------

    def start(self) -> None:
        """Connect once here (raising StreamUnusable or CaptureError), then read in a thread."""
        self._stop = threading.Event()  # a new one: a reader still ending from before keeps its own
        self._nudge = threading.Event()
        container = None
        try:
            container = self._connect()
        except StreamUnusable:
            raise
        except Exception as err:  # unreachable now: maybe the camera is still booting
            self.problem = f"cannot connect: {self._explain(err)}"
            _LOGGER.warning("%s: %s; retrying in the background", self.name, self.problem)
        self._thread = threading.Thread(
            target=self._run, args=(container, self._stop, self._nudge), name="stream-reader", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the reader. It notices between two packets; on a stalled stream, at the read
        timeout: we do not wait that long (it is a daemon thread and closes its stream itself)."""
        self._stop.set()
        self._nudge.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(STOP_WAIT)
            if self._thread.is_alive():
                _LOGGER.info("%s: the stalled reader will end at its read timeout", self.name)
            self._thread = None

    def retry_now(self) -> None:
        """Skip the current backoff wait."""
        self._nudge.set()

    def set_sink(self, sink: PacketSink | None) -> None:
        self._sink = sink
        self._sink_format = None  # the next packet announces the format to the new sink

    def latest_jpeg(self, wait: float) -> bytes:
        """The newest frame not returned before, as JPEG; waits up to `wait` s for one."""
        deadline = time.monotonic() + wait
        with self._cond:
            while self._latest is None or self._latest.seq == self._returned_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    raise CaptureError(self.problem or f"no new frame from {self.name} within {wait:.1f} s")
                self._cond.wait(remaining)
            latest = self._latest
            self._returned_seq = latest.seq
        if latest.jpeg is not None:
            return latest.jpeg  # as the camera encoded it
        return self._encode(latest.frame)

    def _encode(self, frame: Any) -> bytes:
        size = fit_within((frame.width, frame.height), self.size_limit)
        # swscale scales in YUV and converts to RGB in one pass: cheaper than PIL afterwards.
        image = frame.to_image(width=size[0], height=size[1])
        self.frame_size = size
        return fit_jpeg(image, size, self.jpeg_quality)

    # --- the reader thread ------------------------------------------------------------

    def _connect(self) -> Any:
        container = self._opener()
        try:
            stream = container.streams.video[0]
        except IndexError:
            container.close()
            raise StreamUnusable(f"{self.name} has no video stream") from None
        codec = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.details = StreamDetails(
            codec=codec.name,
            width=codec.width,
            height=codec.height,
            fps=round(float(rate), 2) if rate and 0 < float(rate) <= 240 else None,
            extradata=bytes(codec.extradata) if codec.extradata else None,
        )
        self._sink_format = None
        _LOGGER.info(
            "%s: %s %dx%d at %s fps",
            self.name,
            codec.name,
            codec.width,
            codec.height,
            self.details.fps or "unknown",
        )
        return container

    def _run(self, container: Any, stop: threading.Event, nudge: threading.Event) -> None:
        backoff = BACKOFF_FIRST
        connected_before = container is not None
        while not stop.is_set():
            if container is None:
                started = time.monotonic()
                try:
                    container = self._connect()
                except Exception as err:
                    self._note_connect(started, ok=False)
                    self._set_problem(f"cannot connect: {self._explain(err)}")
                    backoff = self._wait_for_retry(stop, nudge, backoff)
                    continue
                self._note_connect(started, ok=True)
                if connected_before:
                    self.reconnects += 1
                connected_before = True
            self._delivered = False
            try:
                self._pump(container, stop)
                ending = "the stream ended"
            except Exception as err:
                ending = self._explain(err)
            finally:
                self._close(container)
                container = None
            if stop.is_set():
                break
            self._set_problem(f"stream lost: {ending}")
            if self._delivered:
                backoff = BACKOFF_FIRST  # it worked until now: retry soon
            backoff = self._wait_for_retry(stop, nudge, backoff)

    def _note_connect(self, started: float, *, ok: bool) -> None:
        if self.reach is not None:
            self.reach.note_connect(started, ok)

    def _wait_for_retry(self, stop: threading.Event, nudge: threading.Event, backoff: float) -> float:
        """Wait before the next full connection attempt; returns the backoff after that one.

        Without a reachability check: `backoff` seconds (or until nudged). With one, the
        camera's port is checked every PROBE_INTERVAL meanwhile. While it does not answer,
        nothing else is tried, however long that lasts (a nudge changes nothing then); the
        moment it answers again, the full connection follows at once and the backoff starts
        afresh. While the port answers but the stream fails, the backoff is waited out."""
        nudge.clear()
        reach = self.reach
        if reach is None:
            nudge.wait(backoff)
            return min(2 * backoff, BACKOFF_MAX)
        start = time.monotonic()
        deadline = start + backoff
        next_knock = start + min(PROBE_INTERVAL, backoff)
        away = False
        while not stop.is_set():
            nudged = nudge.wait(max(0.0, next_knock - time.monotonic()))
            nudge.clear()
            if stop.is_set() or (nudged and away):
                continue  # away: the knocks already come every PROBE_INTERVAL
            now = time.monotonic()
            next_knock = now + min(PROBE_INTERVAL, max(0.0, deadline - now))
            if not reach.answers():
                if not away:
                    _LOGGER.info(
                        "%s: nothing answers on port %d; checking every %g s",
                        self.name,
                        reach.port,
                        PROBE_INTERVAL,
                    )
                away = True
                next_knock = now + PROBE_INTERVAL
                continue
            if away:
                _LOGGER.info("%s: the camera answers again; reconnecting", self.name)
                return BACKOFF_FIRST  # back: connect now, and start the backoff afresh
            if nudged or time.monotonic() >= deadline:
                break
        return min(2 * backoff, BACKOFF_MAX)

    def _pump(self, container: Any, stop: threading.Event) -> None:
        """Demux (and decode what is needed) until the stream ends, stalls or we stop."""
        stream = container.streams.video[0]
        codec = stream.codec_context
        passthrough = codec.name == "mjpeg"
        codec.thread_type = "AUTO"
        codec.skip_frame = "NONREF"  # B-frames: nothing else refers to them, detection can do without
        keyframes: deque[float] = deque(maxlen=KEYFRAME_HISTORY + 1)
        last_picture = time.monotonic()
        anchor: tuple[int, float] | None = None  # (a packet's dts, its wall time)
        last_time = 0.0
        for packet in container.demux(stream):
            if stop.is_set():
                return
            if packet.size == 0:
                continue  # a flush packet at the end
            self.packets_read += 1
            now = time.monotonic()
            if (
                self.decode
                and not passthrough
                and packet.is_keyframe
                and packet.pts is not None
                and stream.time_base
            ):
                at = float(packet.pts * stream.time_base)  # stream time: arrival is bursty
                if not keyframes or at - keyframes[-1] > 0.001:
                    keyframes.append(at)
                    self._choose_decoding(codec, keyframes)
            sink = self._sink
            if sink is not None and not passthrough:
                anchor, last_time = self._to_sink(sink, packet, stream, anchor, last_time)
            got_picture = self._picture(codec, packet, passthrough) if self.decode else True
            if got_picture:
                last_picture = now
                self._delivered = True
                if self.problem is not None:
                    _LOGGER.info("%s: frames again", self.name)
                    self.problem = None
            elif now - last_picture > self.timeout:
                raise CaptureError(f"no picture for {self.timeout:.0f} s although packets arrive")

    def _picture(self, codec: Any, packet: Any, passthrough: bool) -> bool:
        """Decode (or pass through) one packet; True when it gave a picture."""
        if passthrough:
            data = bytes(packet)
            try:
                self.frame_size = jpeg_size(data)
            except CaptureError as err:  # a torn frame from the webcam: skip it
                _LOGGER.debug("%s: %s", self.name, err)
                return False
            self._publish(None, data)
            return True
        got_picture = False
        try:
            for frame in codec.decode(packet):
                self.frames_decoded += 1
                self._publish(frame, None)
                got_picture = True
        except Exception as err:  # one corrupt packet: the next keyframe heals it
            _LOGGER.debug("%s: undecodable packet: %s", self.name, self._explain(err))
        return got_picture

    def _choose_decoding(self, codec: Any, keyframes: deque[float]) -> None:
        """Keyframes only when they alone come at least as often as frames are sent."""
        if len(keyframes) < 3:
            return
        gaps = [b - a for a, b in zip(keyframes, list(keyframes)[1:], strict=False)]
        wanted = "NONKEY" if statistics.median(gaps) <= 1.0 / self.fps else "NONREF"
        if codec.skip_frame != wanted:
            codec.skip_frame = wanted
            _LOGGER.info(
                "%s: decoding %s", self.name, "keyframes only" if wanted == "NONKEY" else "all frames"
            )

    def _publish(self, frame: Any, jpeg: bytes | None) -> None:
        with self._cond:
            seq = self._latest.seq + 1 if self._latest else 1
            self._latest = _Latest(seq, frame, jpeg)
            self._cond.notify_all()

    def _to_sink(
        self, sink: PacketSink, packet: Any, stream: Any, anchor: tuple[int, float] | None, last_time: float
    ) -> tuple[tuple[int, float] | None, float]:
        """One packet to the recorder: Annex B access unit, capture time, keyframe flag."""
        details = self.details
        if details is None or details.codec not in RECORDABLE_CODECS:
            return anchor, last_time
        if self._sink_format is None:
            try:
                self._sink_format = StreamFormat(
                    codec=details.codec,
                    width=details.width,
                    height=details.height,
                    fps=details.fps or self.fps,
                    extradata=details.extradata,
                )
                sink.set_format(self._sink_format)
            except Exception as err:
                _LOGGER.warning("%s: recording cannot take this stream: %s", self.name, err)
                self._sink = None
                return anchor, last_time
        b_frame = packet.pts is not None and packet.dts is not None and packet.pts != packet.dts
        if b_frame and not self._b_frames_warned:
            self._b_frames_warned = True
            _LOGGER.warning(
                "%s sends B-frames, which recordings do not take (frames would play out of order): "
                "turn B-frames off in the camera's encoder settings",
                self.name,
            )
        wall = time.time()
        stamp = packet.dts if packet.dts is not None else packet.pts
        if stamp is None or stream.time_base is None:
            when = wall
        else:
            if (
                anchor is None
                or abs(anchor[1] + float((stamp - anchor[0]) * stream.time_base) - wall) > CLOCK_RESYNC
            ):
                anchor = (stamp, wall)  # first packet, a timestamp jump or a drifting camera clock
            when = anchor[1] + float((stamp - anchor[0]) * stream.time_base)
        when = max(when, last_time)  # the recorder needs times that never go back
        try:
            sink.write(EncodedPacket(data=bytes(packet), time=when, keyframe=bool(packet.is_keyframe)))
        except Exception:
            _LOGGER.exception("%s: the recorder refused a packet", self.name)
        return anchor, when

    def _set_problem(self, problem: str) -> None:
        if problem != self.problem:
            _LOGGER.warning("%s: %s", self.name, problem)
        self.problem = problem

    @staticmethod
    def _close(container: Any) -> None:
        try:
            container.close()
        except Exception:
            _LOGGER.debug("closing the stream failed", exc_info=True)


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """The options every stream source (rtsp://, v4l2:) reads, declared here once."""

    stream_timeout: float = number(
        10.0,
        1.0,
        120.0,
        metavar="S",
        help="seconds without data before a stream counts as lost and is reconnected (default {default})",
    )


class StreamSource(FrameSource):
    """A frame source read through a `LiveStream`: RTSP cameras, webcams.

    A subclass says how to open its PyAV container (`open_container`, raising
    StreamUnusable for what no retry fixes) and how to explain a failure without secrets
    (`explain`); everything else — the reader, reconnects, stream info, the packet sink —
    is here.
    """

    av_hint = "this source needs PyAV: sudo apt install python3-av on Raspberry Pi OS, else pip install av"

    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        self.timeout = options.own_options(StreamOptions).stream_timeout
        self._stream: LiveStream | None = None
        self._sink: PacketSink | None = None

    @abstractmethod
    def open_container(self) -> Any:
        """Open the PyAV input container; StreamUnusable when no retry can help."""

    @abstractmethod
    def explain(self, err: BaseException) -> str:
        """What went wrong, naming the fix; never a secret."""

    def check(self) -> None:
        """Configuration checks before the first connection (ConfigError)."""

    def reach(self) -> Reach | None:
        """The camera's reachability check (a network camera's host and port), or None."""
        return None

    @property
    def size(self) -> tuple[int, int]:
        stream = self._stream
        if stream is not None and stream.frame_size is not None:
            return stream.frame_size  # known from the first frame sent
        if stream is not None and stream.details is not None:
            native = (stream.details.width, stream.details.height)
            return native if stream.details.codec == "mjpeg" else fit_within(native, super().size)
        return super().size

    @property
    def max_fps(self) -> float | None:
        details = self._stream.details if self._stream else None
        return details.fps if details else None

    def stream_info(self) -> dict[str, Any]:
        details = self._stream.details if self._stream else None
        if details is None:
            return {}
        info: dict[str, Any] = {
            "stream_codec": details.codec,
            "stream_resolution": [details.width, details.height],
        }
        if details.fps:
            info["stream_fps"] = details.fps
        return info

    @property
    def problem(self) -> str | None:
        return self._stream.problem if self._stream else None

    @property
    def reconnects(self) -> int:
        return self._stream.reconnects if self._stream else 0

    def record_to(self, sink: PacketSink, video: VideoOptions) -> bool:
        """The camera's own H.264/H.265 packets go to the recorder as they are: its size and
        rate are the camera's (`video` cannot change them without a re-encode)."""
        self._sink = sink
        if self._stream is not None:
            self._stream.set_sink(sink)
        return True

    def open(self) -> None:
        try:
            import av  # noqa: F401 - only to say clearly that it is missing
        except ImportError:
            raise StartupError(self.av_hint) from None
        self.check()
        stream = LiveStream(
            self.description,
            self.open_container,
            self.explain,
            fps=self.fps,
            size=super().size,
            jpeg_quality=self.options.jpeg_quality,
            timeout=self.timeout,
            reach=self.reach(),
        )
        stream.set_sink(self._sink)
        try:
            stream.start()
        except StreamUnusable as err:
            raise StartupError(f"cannot watch {self.description}: {err}") from None
        self._stream = stream

    def read(self) -> bytes:
        if self._stream is None:
            raise CaptureError(f"{self.description} is not open")
        # Wait up to two frame periods for a frame newer than the last one sent.
        return self._stream.latest_jpeg(wait=min(self.timeout, 2.0 / self.fps))

    def set_fps(self, fps: float) -> None:
        super().set_fps(fps)
        if self._stream is not None:
            self._stream.fps = fps

    def pause(self) -> None:
        self.close()  # nothing decoded, nothing on the network, the webcam's light off

    def resume(self) -> None:
        if self._stream is None:
            self.open()

    def reopen(self) -> None:
        if self._stream is None:
            self.open()
        else:
            self._stream.retry_now()  # the reader reconnects by itself: just skip its backoff

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
