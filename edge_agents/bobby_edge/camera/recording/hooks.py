"""What recording adds to the camera agent: the recorder, its two topics, its encoder.

The camera agent's capture loop only hands frames over (`submit`) and says when the
camera is disabled (`clear`) or changes rate (`set_fps`). Everything else about events
lives here: the recorder and its spool, the `detection` and `chunk_ack` subscriptions
(on paho's thread), the encoder for sources that deliver JPEG only, and the stats.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import paho.mqtt.client as mqtt

from ... import protocol
from ...config import CameraConfig
from ...errors import StartupError
from ...logthrottle import LogThrottle
from ..sources.base import FrameSource, VideoOptions
from .delivery import Delivery
from .encoder import EncoderSettings, FrameEncoder
from .recorder import Recorder, RecordSettings
from .spool import Spool

_LOGGER = logging.getLogger(__name__)

TRIGGER_CLOCK_SKEW = 60.0  # a detection's frame_time further than this from our clock: use ours


class RecordingHooks:
    """One camera's recorder, wired to the agent's MQTT link and capture loop."""

    def __init__(
        self,
        config: CameraConfig,
        *,
        publish_chunk: Callable[[bytes], bool],
        connected: threading.Event,
        enabled: Callable[[], bool],
        log: LogThrottle,
    ) -> None:
        """`publish_chunk` sends one chunk; `enabled()` says whether the camera runs."""
        self.config = config
        self._enabled = enabled
        self._log = log
        spool_dir = config.spool_dir or config.state_dir / "spool"
        spool = Spool(spool_dir / config.id, config.spool_max_mb * 1024 * 1024)
        delivery = Delivery(spool, publish_chunk, connected, resend_after=config.chunk_resend)
        settings = RecordSettings(config.pre_roll, config.post_roll, config.max_event, config.chunk_seconds)
        self.recorder = Recorder(config.id, settings, spool, delivery)
        self.frame_encoder: FrameEncoder | None = None  # for sources that deliver JPEG only

    def subscribe(self, subscribe: Callable[..., None], topic: Callable[[str], str]) -> None:
        """Listen to the camera's detections (they start events) and the core's chunk acks."""
        subscribe(topic("detection"), self.on_detection, qos=1)
        subscribe(topic("chunk_ack"), self.on_chunk_ack, qos=1)

    # --- life cycle (the agent's thread) -------------------------------------------------

    def start(self, source: FrameSource, fps: float) -> None:
        """Feed the recorder from the source (its own video, else encoded frames) and start it."""
        config = self.config
        video = VideoOptions(config.record_width, config.record_height, config.record_fps)
        if not source.record_to(self.recorder, video):
            settings = EncoderSettings(codec=config.record_encoder)
            self.frame_encoder = FrameEncoder(self.recorder, fps, settings)

    def start_recorder(self) -> None:
        """Start recorder and encoder after the source, so a camera that cannot open leaves no spool."""
        try:
            self.recorder.start()
        except OSError as err:
            raise StartupError(
                f"cannot use the recording spool {self.recorder.spool.directory}: {err}; "
                "give --spool-dir a writable folder (or --no-record)"
            ) from None
        if self.frame_encoder is not None:
            self.frame_encoder.start()

    def stop(self) -> None:
        """Stop encoder and recorder: the event in progress ends, its last chunk waits in the spool."""
        if self.frame_encoder is not None:
            self.frame_encoder.stop()
        self.recorder.stop()

    def reconnected(self) -> None:
        """What was in flight may be lost: resend."""
        self.recorder.delivery.reconnected()

    # --- the capture loop -----------------------------------------------------------------

    @property
    def needs_frames(self) -> bool:
        """Whether captured frames feed the recording (then capture goes on while offline)."""
        return self.frame_encoder is not None

    def submit(self, frame: bytes, frame_time: float) -> None:
        """A captured frame, for a source that records through the encoder."""
        if self.frame_encoder is not None:
            self.frame_encoder.submit(frame, frame_time)

    def set_fps(self, fps: float) -> None:
        """The capture rate changed: the encoder's timestamps follow."""
        if self.frame_encoder is not None:
            self.frame_encoder.fps = fps

    def clear(self) -> None:
        """The camera is disabled: nothing more is kept."""
        self.recorder.clear()

    def trigger(self, when: float, reason: str, lasts: float | None = None) -> None:
        """Start (or extend) an event."""
        self.recorder.trigger(when, reason, lasts=lasts)

    # --- triggers and acknowledgements (paho's thread) ------------------------------------

    def _parse(self, what: str, message: mqtt.MQTTMessage) -> Any:
        """The payload of a `what` message; None (logged, throttled, never the payload) when invalid."""
        try:
            _, payload = protocol.parse_message(message.topic, bytes(message.payload))
        except protocol.ProtocolError as err:
            self._log.warning(
                "ignored an invalid %s message on %.200s (%d bytes): %s",
                what,
                message.topic,
                len(message.payload),
                err,
                key=("invalid", what),
            )
            return None
        return payload

    def on_detection(self, message: mqtt.MQTTMessage) -> None:
        """A detection of this camera starts or extends an event (at the detected frame's time)."""
        detection = cast(protocol.DetectionPayload | None, self._parse("detection", message))
        if detection is None or not self._enabled():
            return
        now = time.time()
        when = float(detection["frame_time"])
        if abs(when - now) > TRIGGER_CLOCK_SKEW:
            when = now  # a detector (or dumb camera) with another clock: trust ours
        self.recorder.trigger(min(when, now), "detection")

    def on_chunk_ack(self, message: mqtt.MQTTMessage) -> None:
        """The core stored a chunk (or refused it for good): it leaves the spool."""
        ack = cast(protocol.ChunkAckPayload | None, self._parse("chunk_ack", message))
        if ack is not None:
            delivery = self.recorder.delivery
            delivery.acknowledged(
                ack["event"], ack["seq"], ack.get("ok", True), ack.get("error"), ack.get("token")
            )

    def stats(self) -> dict[str, Any]:
        """The recording counters of the heartbeat (docs/protocol.md, `stats`)."""
        recorder = self.recorder
        spool, delivery = recorder.spool, recorder.delivery
        return {
            "recording": recorder.recording,
            "events_recorded": recorder.events_recorded,
            "chunks_spooled": recorder.chunks_spooled,
            "chunks_sent": delivery.chunks_sent,
            "chunks_acked": delivery.chunks_acked,
            "chunks_unacked": spool.nchunks,
            "spool_bytes": spool.nbytes,
            "events_dropped": spool.events_dropped,
            "chunks_dropped": spool.chunks_dropped,
            "record_frames_dropped": self.frame_encoder.frames_dropped if self.frame_encoder else 0,
        }
