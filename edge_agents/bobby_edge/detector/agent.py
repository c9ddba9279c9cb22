"""`bobby-edge detector`: frames from a shared MQTT subscription → person detections.

    paho thread:     _on_frame   keep the newest undecoded frame per camera (latest wins),
                                 with its motion regions (MQTT v5 user property)
                     _on_selftest  keep the core's newest self-test picture
    worker threads:  _work       a self-test first (selftest.py), else
                                 _next_frame → Pipeline.analyse → _publish
                                 (decode and inference never run on paho's network thread)

`workers` threads each own a Pipeline with its own LiteRT interpreter: LiteRT releases
the GIL while it infers, so N 1-thread workers keep N cores busy (the bench measures
it against N × the bare 1-thread model; docs/performance.md). A camera's frames may be
analysed by two workers at once and published out of order, as with two detectors.

Frames of one camera may reach other detectors of the group, so nothing here is
per-camera state that must be consistent — only the snapshot rate limit.

Measured on loopback (2-core build machine, DeepLab v3, 640×480 frames): frame sent →
detection published, minus inference, 2.6 ms median — once mqtt.py acknowledges the
broker's PUBACKs at once (TCP_QUICKACK); before that, 44 ms (delayed ACK × Nagle).
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import paho.mqtt.client as mqtt

from .. import protocol
from ..agent import Agent
from ..config import DetectorConfig, resolve_workers
from ..errors import CommandError
from ..logthrottle import BAD_INPUT_EVERY, LogThrottle
from . import decode, masks, selftest, snapshot
from .models import Person
from .pipeline import Analysis, Pipeline

_LOGGER = logging.getLogger(__name__)

WAKE_INTERVAL = 0.25  # how often an idle worker checks for shutdown
SAMPLES = 10_000  # per-interval timing samples kept at most (stats thread late: no growth)
# Cameras counted per stats interval at most (`cameras` in stats; a flood of made-up ids
# must not grow memory): the rest are counted as omitted.
TRACKED_CAMERAS = 4 * protocol.MAX_STATS_CAMERAS


@dataclass(slots=True, frozen=True)
class Frame:
    payload: bytes
    frame_time: float  # Unix time taken (camera's user property) or received
    arrived: float  # time.monotonic() on arrival, for the queue age
    regions: tuple[protocol.Coords, ...] | None = None  # camera's motion regions; None: none sent
    # The camera's masks and objects (its properties); default: no mask, person only.
    masking: masks.FrameMasking = masks.NO_MASKING


def _frame_time(value: str | None, received: float) -> float:
    if value is not None:
        try:
            stamp = float(value)
        except ValueError:
            return received
        if 0 < stamp < 1e11:  # finite, not negative, not in milliseconds by mistake
            return stamp
    return received


_READ_PROPERTIES = frozenset(
    {
        protocol.FRAME_TIME_PROPERTY,
        protocol.REGIONS_PROPERTY,
        protocol.MASKS_PROPERTY,
        protocol.OBJECTS_PROPERTY,
    }
)


def _user_properties(message: mqtt.MQTTMessage) -> dict[str, str]:
    """The frame's user properties we read (the first of each name)."""
    found: dict[str, str] = {}
    properties = getattr(message, "properties", None)
    for key, value in getattr(properties, "UserProperty", None) or []:
        if key in _READ_PROPERTIES and key not in found:
            found[key] = value
    return found


@dataclass(slots=True)
class CameraCounts:
    """What this detector did with one camera's frames in the current stats interval."""

    analysed: int = 0
    dropped: int = 0
    last_frame_time: float | None = None  # newest analysed frame's time

    def report(self) -> dict[str, Any]:
        last = None if self.last_frame_time is None else round(self.last_frame_time, 3)
        return {"analysed": self.analysed, "dropped": self.dropped, "last_frame_time": last}


class PerCamera:
    """Per-camera counts of one stats interval, bounded (not thread-safe: the agent's lock guards it).

    HA sums them over the detectors of the group to tell, per camera, whether its frames
    are analysed (docs/protocol.md, stats `cameras`).
    """

    def __init__(self) -> None:
        self._counts: dict[str, CameraCounts] = {}
        self._omitted: set[str] = set()  # ids past TRACKED_CAMERAS (bounded the same way)

    def _of(self, camera: str) -> CameraCounts | None:
        counts = self._counts.get(camera)
        if counts is None:
            if len(self._counts) >= TRACKED_CAMERAS:
                if len(self._omitted) < TRACKED_CAMERAS:
                    self._omitted.add(camera)
                return None
            counts = self._counts[camera] = CameraCounts()
        return counts

    def analysed(self, camera: str, frame_time: float) -> None:
        if (counts := self._of(camera)) is not None:
            counts.analysed += 1
            counts.last_frame_time = max(frame_time, counts.last_frame_time or frame_time)

    def dropped(self, camera: str) -> None:
        if (counts := self._of(camera)) is not None:
            counts.dropped += 1

    def take(self) -> dict[str, Any]:
        """The interval's `cameras` (and `cameras_omitted` when any), and start a new interval.

        Past MAX_STATS_CAMERAS the cameras with the most frames are named: a camera left
        out shows as not watched in HA (a false alarm, never a false all-clear).
        """
        ranked = sorted(self._counts.items(), key=lambda item: -(item[1].analysed + item[1].dropped))
        kept = ranked[: protocol.MAX_STATS_CAMERAS]
        omitted = len(ranked) - len(kept) + len(self._omitted)
        self._counts, self._omitted = {}, set()
        report: dict[str, Any] = {"cameras": {camera: counts.report() for camera, counts in kept}}
        if omitted:
            report["cameras_omitted"] = omitted
        return report


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


class DetectorAgent(Agent):
    kind: ClassVar[str] = "detector"
    config: DetectorConfig

    def __init__(self, config: DetectorConfig, pipelines: list[Pipeline] | None = None) -> None:
        # The models first: a missing or unusable model fails before any connection.
        self.pipelines = pipelines or [
            Pipeline.open(
                config.model,
                threads=config.threads,
                labels=config.labels,
                person_class=config.person_class,
                max_payload=config.max_payload,
            )
            for _ in range(resolve_workers(config.workers, config.threads))
        ]
        self.pipeline = self.pipelines[0]
        super().__init__(config)
        self.settings = config
        self.threshold: float = self.initial["threshold"]
        self.min_area: float = self.initial["min_area"]
        self._frame_prefix = f"{config.base_topic}/camera/"
        self._pending: dict[str, Frame] = {}
        self._wake = threading.Condition()
        self._last_snapshot: dict[str, float] = {}  # guarded by _wake's lock (workers share it)
        self._log = LogThrottle(_LOGGER, BAD_INPUT_EVERY)  # keyed by (complaint, camera)
        # Counters since start, guarded by _wake's lock.
        self.frames_received = 0
        self.frames_analysed = 0
        self.frames_dropped = 0
        self.frames_invalid = 0
        self._analysed_at_last_stats = 0
        self._inference_ms: deque[float] = deque(maxlen=SAMPLES)
        self._queue_age_ms: deque[float] = deque(maxlen=SAMPLES)
        self._frame_ms: deque[float] = deque(maxlen=SAMPLES)
        self._region_crops: deque[int] = deque(maxlen=SAMPLES)
        self._tile_crops: deque[int] = deque(maxlen=SAMPLES)
        # Load and capacity: the workers' busy seconds and frames since the last stats, and
        # the last known cost of a frame (seconds of one worker, regions and tiles included).
        self._busy_seconds = 0.0
        self._busy_frames = 0
        self._frame_cost: float | None = None
        self._per_camera = PerCamera()
        # The core's self-test (selftest.py): apart from the frames, counted apart.
        self.selftests = selftest.SelfTests(
            self._wake,
            max_payload=config.max_payload,
            limits=self._limits,
            answer=lambda result: self.publish(protocol.SELFTEST_RESULT_CHANNEL, result),
        )
        frames = protocol.frame_subscription(config.base_topic, config.group)
        self.mqtt.subscribe(frames, self._on_frame, qos=0)
        self.mqtt.subscribe(self.topic(protocol.SELFTEST_CHANNEL), self.selftests.on_message, qos=1)

    # --- Agent ----------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        width, height = self.pipeline.model.input_size
        return {
            "model": self.pipeline.model.describe(),
            "resolution": [width, height],
            "capabilities": [
                "threshold",
                "min_area",
                protocol.EXPIRES,
                "regions",
                "tiles",
                "masks",
                "objects",
                protocol.SELFTEST_CAPABILITY,
            ],
        }

    def configured_settings(self) -> dict[str, Any]:
        return {"threshold": self.config.threshold, "min_area": self.config.min_area}

    def state(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "min_area": self.min_area}

    def apply(self, command: dict[str, Any]) -> None:
        if "threshold" in command and command["threshold"] <= 0:
            raise CommandError("threshold 0 would report every frame: give a value above 0, e.g. 0.5")
        if "threshold" in command:
            self.threshold = float(command["threshold"])
        if "min_area" in command:
            self.min_area = float(command["min_area"])
        if command.get("enabled") is False:
            with self._wake:
                self._pending.clear()  # switched off: what was waiting is not analysed

    def stats(self, interval: float) -> dict[str, Any]:
        with self._wake:
            analysed = self.frames_analysed
            inference = list(self._inference_ms)
            ages = list(self._queue_age_ms)
            frame_ms = list(self._frame_ms)
            region_crops, tile_crops = list(self._region_crops), list(self._tile_crops)
            for samples in (self._inference_ms, self._queue_age_ms, self._frame_ms):
                samples.clear()
            self._region_crops.clear()
            self._tile_crops.clear()
            per_camera = self._per_camera.take()
            fps = (analysed - self._analysed_at_last_stats) / interval if interval > 0 else 0.0
            self._analysed_at_last_stats = analysed
            load, capacity = self._load_and_capacity(interval)
            counters = {
                "frames_received": self.frames_received,
                "frames_analysed": analysed,
                "frames_dropped": self.frames_dropped,
                "frames_invalid": self.frames_invalid,
            }
        return {
            "fps": round(fps, 2),
            **counters,
            "inference_ms_p50": _percentile(inference, 0.5),
            "inference_ms_p95": _percentile(inference, 0.95),
            "queue_age_ms": round(statistics.median(ages), 2) if ages else None,
            "frame_ms_p50": _percentile(frame_ms, 0.5),
            "frame_ms_p95": _percentile(frame_ms, 0.95),
            "regions_per_frame": _mean(region_crops),
            "tiles_per_frame": _mean(tile_crops),
            "workers": len(self.pipelines),
            "load": load,
            "capacity_fps": capacity,
            **per_camera,
            **self.selftests.counters(),
        }

    def _load_and_capacity(self, interval: float) -> tuple[float | None, float | None]:
        """Busy time / wall time of the workers since the last stats (averaged over them),
        and the frames per second they would analyse at the cost frames had meanwhile (or
        the last cost known, when idle). Under `_wake`'s lock."""
        busy, frames = self._busy_seconds, self._busy_frames
        self._busy_seconds, self._busy_frames = 0.0, 0
        workers = len(self.pipelines)
        load = round(min(1.0, busy / (interval * workers)), 3) if interval > 0 else None
        if frames:
            self._frame_cost = busy / frames
        cost = self._frame_cost
        return load, (round(workers / cost, 1) if cost else None)

    def work(self) -> None:
        _LOGGER.info(
            "detector %s analysing %s with %d worker(s) of %d thread(s)",
            self.config.id,
            protocol.frame_subscription(self.config.base_topic, self.settings.group),
            len(self.pipelines),
            self.pipeline.model.threads,
        )
        others = [
            threading.Thread(target=self._work, args=(p,), name=f"worker-{i + 1}", daemon=True)
            for i, p in enumerate(self.pipelines[1:], start=1)
        ]
        for thread in others:
            thread.start()
        try:
            self._work(self.pipeline)
        finally:
            for thread in others:
                thread.join()

    def _work(self, pipeline: Pipeline) -> None:
        while not self.stop_event.is_set():
            if self.selftests.run_next(pipeline):
                continue  # before the frames: answered within the core's timeout, even when busy
            picked = self._next_frame()
            if picked is not None:
                self.process(*picked, pipeline=pipeline)

    def _limits(self) -> tuple[float, float]:
        with self.lock:
            return self.threshold, self.min_area

    def tiles_for(self, camera: str) -> bool:
        tiles = self.settings.tiles
        return camera in tiles if isinstance(tiles, tuple) else tiles

    # --- paho's thread: receive -------------------------------------------------------

    def _on_frame(self, message: mqtt.MQTTMessage) -> None:
        received = time.time()
        arrived = time.monotonic()
        with self._wake:
            self.frames_received += 1
        if not self.enabled:
            return
        camera = message.topic[len(self._frame_prefix) : -len("/frame")]
        payload = bytes(message.payload)  # paho types it bytes | bytearray; bytes is no copy
        try:
            protocol.validate_agent_id(camera)
            # Cheap checks here, so oversized or non-JPEG payloads never displace a good frame.
            decode.check_payload(payload, self.settings.max_payload)
        except (protocol.ProtocolError, decode.InvalidFrame) as err:
            self._invalid(camera, len(payload), str(err))
            return
        properties = _user_properties(message)
        regions = None
        if protocol.REGIONS_PROPERTY in properties:
            parsed = protocol.parse_regions(properties[protocol.REGIONS_PROPERTY])
            if parsed.problem:
                self._log.warning(
                    "frame on %.200s (%d bytes): %s",
                    message.topic,
                    len(payload),
                    parsed.problem,
                    key=("regions", camera),
                )
            regions = parsed.boxes if parsed.readable else None
        masking = masks.NO_MASKING
        if protocol.MASKS_PROPERTY in properties or protocol.OBJECTS_PROPERTY in properties:
            masking = masks.frame_masking(
                properties.get(protocol.MASKS_PROPERTY), properties.get(protocol.OBJECTS_PROPERTY)
            )
            if masking.problem:
                self._log.warning(
                    "frame on %.200s (%d bytes): %s",
                    message.topic,
                    len(payload),
                    masking.problem,
                    key=("masking", camera),
                )
        frame = Frame(
            payload,
            _frame_time(properties.get(protocol.FRAME_TIME_PROPERTY), received),
            arrived,
            regions,
            masking,
        )
        with self._wake:
            if camera in self._pending:
                self.frames_dropped += 1
                self._per_camera.dropped(camera)
            self._pending[camera] = frame
            self._wake.notify()

    def pending(self) -> int:
        """Frames waiting for analysis: at most one per camera."""
        with self._wake:
            return len(self._pending)

    def _invalid(self, camera: str, size: int, reason: str) -> None:
        with self._wake:
            self.frames_invalid += 1
        topic = f"{self._frame_prefix}{camera}/frame"
        self._log.warning(
            "skipped a %d-byte frame on %.200s: %s", size, topic, reason, key=("invalid", camera)
        )

    # --- worker thread: decode, infer, publish ----------------------------------------

    def _next_frame(self) -> tuple[str, Frame] | None:
        """The longest-waiting camera's newest frame (fair across cameras), or None."""
        with self._wake:
            if not self._pending and not self.selftests.waiting and not self._wake.wait(WAKE_INTERVAL):
                return None
            if not self._pending:
                return None
            camera = min(self._pending, key=lambda cam: self._pending[cam].arrived)
            return camera, self._pending.pop(camera)

    def process(self, camera: str, frame: Frame, pipeline: Pipeline | None = None) -> None:
        """Analyse one frame and publish what it shows."""
        started = time.monotonic()
        queue_age_ms = (started - frame.arrived) * 1000
        try:
            analysis = (pipeline or self.pipeline).analyse(
                frame.payload,
                frame.regions,
                tiles=frame.regions is None and self.tiles_for(camera),
                # Live frames: first-level tiles only (7 model runs at 640×480, not 31); a
                # far person on a live camera is the job of its motion regions (issue 24).
                fine_tiles=False,
                objects=frame.masking.objects,
            )
        except decode.InvalidFrame as err:
            self._invalid(camera, len(frame.payload), str(err))
            return
        except Exception:  # a model failure must not end the agent; it is counted and logged
            self._log.exception("analysing a frame from camera %r failed", camera, key=("failed", camera))
            self._invalid(camera, len(frame.payload), "analysis failed (see the error above)")
            return
        if analysis.regions_capped:
            self._log.warning(
                "frame from camera %r: %d region squares beyond the %d largest not analysed",
                camera,
                analysis.regions_capped,
                analysis.region_crops,
                key=("capped", camera),
            )
        # The owner's masks last: an object mostly inside one is not reported at all.
        people = masks.unmasked(analysis.select(*self._limits()), frame.masking.table)
        if people:
            self._publish(camera, frame, analysis, people)
        # Counted after publishing: a frame counted as analysed has had its result sent.
        busy = time.monotonic() - started
        with self._wake:
            self.frames_analysed += 1
            self._busy_seconds += busy  # with the count: fps = load × capacity, exactly
            self._busy_frames += 1
            self._per_camera.analysed(camera, frame.frame_time)
            self._inference_ms.append(analysis.inference_ms)
            self._queue_age_ms.append(queue_age_ms)
            self._frame_ms.append(analysis.total_ms)
            self._region_crops.append(analysis.region_crops)
            self._tile_crops.append(analysis.tile_crops)

    def _publish(self, camera: str, frame: Frame, analysis: Analysis, people: list[Person]) -> None:
        now = time.monotonic()
        with self._wake:
            with_snapshot = now - self._last_snapshot.get(camera, -1e9) >= self.settings.snapshot_interval
            if with_snapshot:
                self._last_snapshot[camera] = now
        if with_snapshot:
            # Before the detection: whoever reads `snapshot: true` finds the image retained.
            try:
                self._send(camera, "snapshot", snapshot.render(frame.payload, people))
            except (OSError, ValueError) as err:
                with_snapshot = False
                _LOGGER.warning("could not draw the snapshot for camera %r: %s", camera, err)
        self._send(
            camera,
            "detection",
            protocol.encode(
                {
                    "camera": camera,
                    "detector": self.config.id,
                    "frame_time": round(frame.frame_time, 3),
                    "detection_time": round(time.time(), 3),
                    "score": people[0].score,
                    "person_count": sum(p.label == protocol.PERSON for p in people),
                    "boxes": [{"score": p.score, "box": list(p.box), "label": p.label} for p in people],
                    "inference_ms": round(analysis.inference_ms, 2),
                    "snapshot": with_snapshot,
                }
            ),
        )

    def _send(self, camera: str, channel: str, payload: bytes) -> None:
        self.mqtt.publish(
            self.topic(channel, agent_id=camera, kind="camera"),
            payload,
            qos=protocol.QOS[channel],
            retain=channel in protocol.RETAINED,
        )
