"""`bobby-edge camera`: frames from one source to `<base>/camera/<id>/frame`, at a steady rate.

The capture loop runs on the main thread and is the only caller of the source.
Commands arrive on paho's network thread; `apply` only validates and records them, and
wakes the loop, which acts on them at once. The schedule uses monotonic deadlines: a
frame is due every 1/fps seconds from the previous deadline (no drift), and when a
capture overruns the next deadline the schedule restarts from now instead of catching
up, so frames are never sent faster than the target rate.

Live view (docs/protocol.md, "Live view"): a `set` with `live` and `lease` raises the
capture rate to the live rate until the lease runs out (the core renews it while someone
watches; nobody has to end it). Every capture then goes to the `live` topic, and only the
captures due at the normal rate go on as frames, with motion regions, previews and
recording: detectors get what they got before, whoever watches.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
import threading
import time
from types import FrameType
from typing import Any

from PIL import Image

from .. import protocol
from ..agent import Agent
from ..config import CameraConfig
from ..errors import CommandError, StartupError
from ..logthrottle import LogThrottle
from ..mqtt import user_properties
from ..protocol import FRAME_TIME_PROPERTY, REGIONS_PROPERTY, format_regions
from . import sources
from .motion import MotionDetector, motion_grey, small_grey
from .recording import unavailable as recording_unavailable
from .recording.hooks import RecordingHooks
from .recording.recorder import Recorder
from .tamper import Measures, TamperCheck

_LOGGER = logging.getLogger(__name__)

PREVIEW_QUALITY = 70
ERROR_LOG_EVERY = 60.0  # seconds between repeated capture-error messages (journald stays readable)
REOPEN_AFTER_ERRORS = 10  # consecutive failed captures before the source is closed and reopened
REOPEN_EVERY = 30.0  # ... and at most this often
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
IDLE_WAIT = 1.0  # how long the loop sleeps while disabled or offline before looking again


def small_preview(frame: bytes, width: int, quality: int = PREVIEW_QUALITY) -> bytes:
    """A JPEG `width` pixels wide (aspect kept); the frame itself if it is no wider."""
    with Image.open(io.BytesIO(frame)) as image:
        if image.width <= width:
            return frame
        height = max(1, round(image.height * width / image.width))
        image.draft("RGB", (width, height))  # libjpeg scales down while decoding: cheap on a Pi
        small = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def tamper_detail(code: str, m: Measures) -> str:
    """The words of a tamper problem's `detail`, with what the check measured."""
    if code == protocol.COVERED:
        light = "dark" if m.mean < 128 else "bright"
        return (
            f"the picture is {light} (mean grey {m.mean:.0f} of 255) with almost no detail "
            f"(spread {m.std:.1f}): something covers the lens, or a light blinds it"
        )
    if code == protocol.DEFOCUSED:
        return (
            f"the picture is blurred: sharpness {m.sharpness:.3f}, its usual {m.baseline:.3f}; "
            "the focus was turned, or the lens is sprayed, wet or dirty"
        )
    return (
        f"{m.moved:.0%} of the textured parts of the picture no longer match the view the camera "
        "learnt: it was turned or knocked. Switch the camera off and on to make it learn a new view"
    )


class CameraAgent(Agent):
    kind = "camera"
    config: CameraConfig

    def __init__(self, config: CameraConfig) -> None:
        # Before the MQTT link exists: an unknown source is a configuration error (exit code 2).
        self.source = sources.create(
            config.source,
            sources.SourceOptions(
                config.width,
                config.height,
                config.fps,
                config.jpeg_quality,
                own=(config.stream, config.rtsp),
            ),
        )
        super().__init__(config)
        self.fps: float = self.initial["fps"]
        self.live_fps: float | None = None  # while a live lease runs: its rate (capped)
        self._live_until = 0.0  # monotonic time the lease ends unless renewed
        # The owner's masks and objects (Home Assistant's `set`), sent with every frame.
        self.masks: list[list[list[float]]] = self.initial["masks"]
        self.objects: list[str] = self.initial["objects"]
        self._wake = threading.Event()
        self._full_preview_requested = False
        self._next_preview = 0.0  # monotonic; 0 = with the next frame
        self._announced: dict[str, Any] | None = None  # the source part of the last `info`
        self._counts_lock = threading.Lock()
        self._frames_sent = 0
        self._capture_errors = 0
        self._interval_sent = 0
        self._interval_ticks = 0
        self._interval_late = 0
        self._capture_seconds: list[float] = []
        self._motion_seconds: list[float] = []
        self._last_error = ""
        self._log = LogThrottle(_LOGGER, ERROR_LOG_EVERY)  # keyed by what fails: capture, motion, input
        self.motion = MotionDetector() if config.motion else None
        self.tamper = TamperCheck(config.tamper_hold, config.tamper_clear) if config.tamper else None
        self._tamper_problem: str | None = None  # the tamper code in the stats' problems now
        self._failing = False  # REOPEN_AFTER_ERRORS captures in a row have failed
        self._source_problem: str | None = None  # the detail of `source_unavailable`, as reported
        self.recording: RecordingHooks | None = None
        self._recording_off = "start the agent without --no-record"  # why, for a `record` command
        if config.record and (missing := recording_unavailable()):
            # A camera that sends frames but keeps no clips beats one restarting every 5 s.
            _LOGGER.warning("recording is off: %s; or start with --no-record to say so", missing)
            self._recording_off = missing
        elif config.record:
            self.recording = RecordingHooks(
                config,
                publish_chunk=lambda payload: self.publish("chunk", payload),
                connected=self.mqtt.connected,
                enabled=lambda: self.enabled,
                log=self._log,
            )
            self.recording.subscribe(self.mqtt.subscribe, self.topic)

    @property
    def recorder(self) -> Recorder | None:
        """The recorder, when this camera records events."""
        return None if self.recording is None else self.recording.recorder

    # --- Agent hooks ------------------------------------------------------------

    def _source_info(self) -> dict[str, Any]:
        return {
            "model": self.source.description,
            "source": self.source.scheme,
            "resolution": list(self.source.size),
            **self.source.stream_info(),
        }

    def info(self) -> dict[str, Any]:
        self._announced = self._source_info()
        capabilities = [
            "fps",
            "preview",
            protocol.EXPIRES,
            protocol.LIVE,
            *(["record"] if self.recording else []),
            "masks",
            "objects",
        ]
        return {**self._announced, "capabilities": capabilities}

    def configured_settings(self) -> dict[str, Any]:
        # Masks and objects are set in Home Assistant only: the configuration holds the defaults.
        return {"fps": self.config.fps, "masks": [], "objects": list(protocol.DEFAULT_OBJECTS)}

    def state(self) -> dict[str, Any]:
        # Masks and objects only when set: a camera left as it was reports what it always did.
        return {
            "fps": self.fps,
            **({protocol.LIVE: self.live_fps} if self.live_fps else {}),
            **protocol.non_default_settings({"masks": self.masks, "objects": self.objects}),
        }

    def live_cap(self) -> float:
        """The highest live rate this camera gives: its option, and what the source delivers."""
        return min(self.config.live_max_fps, self.source.max_fps or protocol.LIVE_FPS_RANGE[1])

    def _apply_live(self, rate: float, lease: float | None, enabled: bool) -> None:
        """Start, renew (`rate` > 0, for `lease` seconds) or end (0) the live lease; under the lock."""
        if not rate:
            if self.live_fps is not None:
                _LOGGER.info("live view ended by the core")
            self.live_fps = None
            return
        if not enabled:
            raise CommandError("cannot stream live while the camera is disabled: send enabled: true first")
        assert lease is not None  # the protocol requires it with a rate
        capped = max(protocol.LIVE_FPS_RANGE[0], min(float(rate), self.live_cap()))
        if self.live_fps is None:
            _LOGGER.info("live view at %s fps for %s s (renewable)", capped, lease)
        self.live_fps = capped
        self._live_until = time.monotonic() + lease

    def _live_rate(self) -> tuple[float | None, bool]:
        """(the live rate now or None, whether the lease just ran out); under the lock."""
        if self.live_fps is not None and time.monotonic() >= self._live_until:
            self.live_fps = None
            return None, True
        return self.live_fps, False

    def apply(self, command: dict[str, Any]) -> None:
        # Check everything before changing anything: a refused command changes nothing.
        enabled = command.get("enabled", self.enabled)
        fps = command.get("fps")
        if fps is not None:
            max_fps = self.source.max_fps
            if max_fps is not None and fps > max_fps:
                raise CommandError(
                    f"fps {fps} is more than {self.source.description} delivers at "
                    f"{self.source.size[0]}x{self.source.size[1]} (at most {max_fps}): ask for less"
                )
        if command.get("action") == "preview" and not enabled:
            raise CommandError(
                "cannot take a preview while the camera is disabled: send enabled: true first (or with it)"
            )
        if command.get("action") == "record":
            if self.recording is None:
                raise CommandError(f"recording is off on this camera: {self._recording_off}")
            if not enabled:
                raise CommandError(
                    "cannot record while the camera is disabled: send enabled: true first (or with it)"
                )
            self.recording.trigger(time.time(), "command", lasts=float(command["duration"]))
        if protocol.LIVE in command:
            self._apply_live(command[protocol.LIVE], command.get("lease"), enabled)
        elif not enabled:
            self.live_fps = None  # a disabled camera streams nothing, live or not
        if fps is not None:
            self.fps = float(fps)
        if "masks" in command:
            self.masks = command["masks"]
        if "objects" in command:
            self.objects = command["objects"]
        if command.get("action") == "preview":
            self._full_preview_requested = True
        self._wake.set()

    def _report_source_problem(self) -> None:
        """`source_unavailable` in the stats' problems while no frames come (docs/protocol.md)."""
        detail = self.source.problem or (self._last_error if self._failing else None)
        if detail is not None:
            detail = CONTROL_CHARACTERS.sub(" ", detail)[:256]  # the protocol's text rule
        if detail != self._source_problem:
            self._source_problem = detail
            self.problems.set(protocol.SOURCE_UNAVAILABLE, detail is not None, detail or "")

    def stats(self, interval: float) -> dict[str, Any]:
        self._report_source_problem()  # before the heartbeat reads the problems
        with self._counts_lock:
            sent, ticks, late = self._interval_sent, self._interval_ticks, self._interval_late
            seconds, self._capture_seconds = self._capture_seconds, []
            motion, self._motion_seconds = self._motion_seconds, []
            self._interval_sent = self._interval_ticks = self._interval_late = 0
            frames_sent, capture_errors = self._frames_sent, self._capture_errors
        return {
            "fps": round(sent / interval, 2) if interval > 0 else 0.0,
            "frames_sent": frames_sent,
            "capture_errors": capture_errors,
            "fps_target": self.fps,
            # Slow when at least half the captures ran past the next frame's deadline.
            "capture_slow": self.enabled and ticks > 0 and 2 * late >= ticks,
            "capture_ms": round(statistics.median(seconds) * 1000, 1) if seconds else None,
            "motion_ms": round(statistics.median(motion) * 1000, 2) if motion else None,
            "source_reconnects": self.source.reconnects,
            **(self.recording.stats() if self.recording is not None else {}),
        }

    def announce(self) -> None:
        super().announce()
        self._next_preview = 0.0  # retained previews are gone after a broker restart: send one soon
        if self.recording is not None:
            self.recording.reconnected()

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        super().request_stop(signum, _frame)
        self._wake.set()

    def start(self) -> None:
        # Open the source before connecting: a missing camera is a clear fatal error, not an
        # agent that flaps online and offline.
        if self.recording is not None:
            self.recording.start(self.source, self.fps)
        self.source.open()
        if self.recording is not None:
            try:
                self.recording.start_recorder()
            except StartupError:
                self.source.close()
                raise
        if not self.enabled:
            self.source.pause()
        super().start()

    def close(self) -> None:
        try:
            if self.recording is not None:
                self.recording.stop()  # the event in progress ends; its last chunk waits in the spool
        finally:
            self.source.close()

    # --- the capture loop ------------------------------------------------------------

    def work(self) -> None:
        capturing = self.enabled
        fps_applied = rate_applied = self.fps
        next_due = time.monotonic()
        last_tick = next_due
        next_frame_due = next_due  # the normal rate's schedule while live captures run faster
        errors_in_a_row = 0
        last_reopen = -float("inf")
        while not self.stop_event.is_set():
            self._wake.clear()
            with self.lock:  # a command is applied under this lock: see all of it or none
                enabled, fps = self.enabled, self.fps
                full_preview, self._full_preview_requested = self._full_preview_requested, False
                live, lease_over = self._live_rate()
                live_until = self._live_until
                state = {"enabled": self.enabled, **self.state()} if lease_over else None
            if state is not None:
                # Nobody renewed it (the core stopped watching, or is gone): back to normal.
                _LOGGER.info("live view ended: its lease ran out")
                self.publish("state", state)

            if not enabled:
                if capturing:
                    self._control(self.source.pause)
                    capturing = False
                    if self.recording is not None:
                        self.recording.clear()  # disabled means nothing more is kept
                    if self.tamper is not None:
                        self.tamper.reset()  # switched on again, it learns the view anew
                        self._report_tamper(None, None)
                    _LOGGER.info("disabled: capture stopped")
                self._wake.wait(IDLE_WAIT)
                continue
            if not capturing:
                self._control(self.source.resume)
                capturing = True
                next_due = time.monotonic()
                _LOGGER.info("enabled: capturing at %s fps", fps)
            rate = max(fps, live) if live else fps
            period, frame_period = 1.0 / rate, 1.0 / fps
            if rate != rate_applied:
                self._control(self.source.set_fps, rate)
                rate_applied = rate
                next_due = last_tick + period  # the new rate counts from the last frame sent
            if fps != fps_applied:
                fps_applied = fps
                if self.recording is not None:
                    self.recording.set_fps(fps)  # it records the frames at the normal rate

            if not self.mqtt.connected.is_set() and not (self.recording and self.recording.needs_frames):
                # Nothing would reach the broker: do not capture for nothing. (When recording,
                # the capture goes on: an event in progress and the pre-roll need the video.)
                self._wake.wait(min(IDLE_WAIT, period))
                next_due = time.monotonic()
                continue

            now = time.monotonic()
            if full_preview:
                frame = self._capture()
                if frame is None:
                    _LOGGER.warning("no preview: the capture failed (%s)", self._last_error)
                else:
                    self.publish("preview", frame[0])
                    _LOGGER.info("sent a full-size preview (%d bytes)", len(frame[0]))
                continue
            if now < next_due:
                self._wake.wait(min(next_due, live_until) - now if live else next_due - now)
                continue
            if now - next_due > period:
                next_due = now  # we were idle (reconnect, resume): start afresh, no burst

            last_tick = now
            # A frame for the detectors: every capture at the normal rate, else when it is due.
            frame_due = not live or now >= next_frame_due - period / 2
            if frame_due:
                next_frame_due = max(next_frame_due + frame_period, now + frame_period - period / 2)
            captured = self._capture()
            if captured is None:
                errors_in_a_row += 1
                self._log.warning(
                    "capture from %s failing: %s", self.source.description, self._last_error, key="capture"
                )
                self._failing = errors_in_a_row >= REOPEN_AFTER_ERRORS
                if self._failing and now - last_reopen >= REOPEN_EVERY:
                    last_reopen = now
                    self._reopen()
            else:
                if self._failing:
                    _LOGGER.info("capture from %s works again", self.source.description)
                errors_in_a_row = 0
                self._failing = False
                if self.recording is not None and frame_due:
                    self.recording.submit(*captured)
                if self.mqtt.connected.is_set():
                    if frame_due:
                        self._send(*captured)
                    if live:
                        self._send_live(captured[0])

            next_due += period
            late = time.monotonic() > next_due
            if late:
                next_due = time.monotonic()
            with self._counts_lock:
                self._interval_ticks += 1
                self._interval_late += late

    def _capture(self) -> tuple[bytes, float] | None:
        """One frame and its Unix time, or None (counted and remembered) when the capture fails."""
        frame_time = time.time()
        started = time.monotonic()
        try:
            frame = self.source.read()
        except Exception as err:  # any failure of a source is retried, never fatal
            self._last_error = f"{type(err).__name__}: {err}"
            _LOGGER.debug("capture failed", exc_info=True)
            with self._counts_lock:
                self._capture_errors += 1
            return None
        with self._counts_lock:
            self._capture_seconds.append(time.monotonic() - started)
        return frame, frame_time

    def _send(self, frame: bytes, frame_time: float) -> None:
        if self._source_info() != self._announced:
            # e.g. an HTTP camera's real size, known after its first snapshot; a stream's codec
            self.announce()
        values = {FRAME_TIME_PROPERTY: f"{frame_time:.3f}"}
        regions = self._look(frame)
        if regions is not None:
            values[REGIONS_PROPERTY] = regions
        with self.lock:
            masks, objects = self.masks, self.objects
        # Only what differs from the default: a camera left as it was sends what it always did.
        if masks:
            values[protocol.MASKS_PROPERTY] = protocol.format_masks(masks)
        if tuple(objects) != protocol.DEFAULT_OBJECTS:
            values[protocol.OBJECTS_PROPERTY] = protocol.format_objects(objects)
        properties = user_properties(**values)
        with self.lock:
            # Checked under the command lock: once a disable is acknowledged, not one more frame.
            if not self.enabled:
                return
            sent = self.publish("frame", frame, properties=properties)
        with self._counts_lock:
            self._frames_sent += sent
            self._interval_sent += sent
        if time.monotonic() >= self._next_preview:
            self._next_preview = time.monotonic() + self.config.preview_interval
            try:
                self.publish("preview", small_preview(frame, self.config.preview_width))
            except (OSError, ValueError) as err:
                _LOGGER.warning("could not make a preview from a %d-byte frame: %s", len(frame), err)

    def _send_live(self, frame: bytes) -> None:
        """The capture as it is on the `live` topic: no regions, no preview, not for detectors."""
        with self.lock:
            if not self.enabled or self.live_fps is None:
                return
            self.publish(protocol.LIVE, frame)

    def _look(self, frame: bytes) -> str | None:
        """Motion regions (the property value; None when motion is off or failed) and the
        tamper checks, from one small grey copy of the frame."""
        if self.motion is None and self.tamper is None:
            return None
        started = time.monotonic()
        try:
            grey = small_grey(frame)
            motion = None if self.motion is None else self.motion.regions_of(motion_grey(grey))
        except (OSError, ValueError) as err:  # a frame Pillow cannot read: sent without regions
            self._log.warning("cannot look at a %d-byte frame: %s", len(frame), err, key="motion")
            return None
        if motion is not None:  # the decode and the regions
            with self._counts_lock:
                self._motion_seconds.append(time.monotonic() - started)
        if self.tamper is not None:
            try:
                measures = self.tamper.update(grey, time.monotonic())
            except Exception:  # a failing check must not stop the frames: logged, then retried
                self._log.exception("tamper check failed on a %d-byte frame", len(frame), key="tamper")
            else:
                if self.tamper.problem != self._tamper_problem:
                    self._report_tamper(self.tamper.problem, measures)
        return None if motion is None else format_regions(motion.regions)

    def _report_tamper(self, problem: str | None, measures: Measures | None) -> None:
        """The tamper code in the stats' problems (docs/protocol.md), published at once."""
        if problem == self._tamper_problem:
            return
        if problem is not None and measures is not None:
            _LOGGER.warning("tamper check: %s", tamper_detail(problem, measures))
        elif self._tamper_problem is not None:
            _LOGGER.info("tamper check: the picture looks right again (%s ended)", self._tamper_problem)
        self._tamper_problem = problem
        for code in protocol.TAMPER_PROBLEMS:
            detail = tamper_detail(code, measures) if code == problem and measures is not None else ""
            self.problems.set(code, code == problem, detail)
        self.report_now()

    def _control(self, method: Any, *args: Any) -> None:
        """pause/resume/set_fps: a failure is logged; the captures that follow show whether it matters."""
        try:
            method(*args)
        except Exception as err:
            _LOGGER.error("%s of %s failed: %s", method.__name__, self.source.description, err)

    def _reopen(self) -> None:
        _LOGGER.warning("reopening %s after %d failed captures", self.source.description, REOPEN_AFTER_ERRORS)
        try:
            self.source.reopen()
        except Exception as err:
            _LOGGER.error("could not reopen %s: %s (will retry)", self.source.description, err)
