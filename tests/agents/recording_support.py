"""Helpers for the recording tests: a paho client playing the core (it receives chunks and
acknowledges them, or not), a moving test video, and PyAV decoding of one chunk alone."""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image, ImageDraw

from bobby_edge import protocol

TOPIC = "bobby/camera/cam1"


@dataclass(frozen=True)
class ReceivedChunk:
    header: dict[str, Any]
    media: bytes
    at: float  # time.monotonic() on arrival

    @property
    def key(self) -> tuple[str, int]:
        return self.header["event"], self.header["seq"]


class Core:
    """What Home Assistant does with chunks, on a plain paho client: keep, then acknowledge."""

    def __init__(self, port: int, acking: bool = True) -> None:
        self.acking = acking
        self.received: list[ReceivedChunk] = []
        self._cond = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(0.2, 1)
        self._client.connect_async("127.0.0.1", port)
        self._client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.subscribe("bobby/camera/+/chunk", qos=1)  # again after a broker restart

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        _t, (header, media) = protocol.parse_message(msg.topic, bytes(msg.payload))
        with self._cond:
            self.received.append(ReceivedChunk(header, media, time.monotonic()))
            self._cond.notify_all()
        if self.acking:
            self.ack(header["event"], header["seq"])

    def ack(self, event: str, seq: int) -> None:
        """The core's ack echoes the chunk's token (the camera ignores one that does not)."""
        with self._cond:
            token = next(
                (c.header.get("token") for c in reversed(self.received) if c.key == (event, seq)), None
            )
        body = protocol.encode({"event": event, "seq": seq, **({"token": token} if token else {})})
        self._client.publish("bobby/camera/cam1/chunk_ack", body, qos=1)

    def unique(self) -> dict[tuple[str, int], ReceivedChunk]:
        with self._cond:
            return {c.key: c for c in self.received}

    def wait(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = sorted({c.key for c in self.received})
                    raise TimeoutError(f"{what} not reached within {timeout}s; chunks: {got}")
                self._cond.wait(min(remaining, 0.2))

    def events(self) -> dict[str, list[ReceivedChunk]]:
        """Each event's chunks, duplicates removed, in sequence order."""
        by_event: dict[str, dict[int, ReceivedChunk]] = {}
        for chunk in self.unique().values():
            by_event.setdefault(chunk.header["event"], {})[chunk.header["seq"]] = chunk
        return {event: [chunks[s] for s in sorted(chunks)] for event, chunks in by_event.items()}

    def finished(self) -> list[str]:
        return [e for e, chunks in self.events().items() if chunks[-1].header["last"]]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def publish_detection(client: Any, frame_time: float) -> None:
    """A detector's message for cam1 (what triggers an event), sent with `client` (a Probe)."""
    body = {
        "v": 1,
        "camera": "cam1",
        "detector": "test",
        "frame_time": frame_time,
        "detection_time": time.time(),
        "score": 0.9,
        "boxes": [{"score": 0.9, "box": [0.1, 0.1, 0.5, 0.9]}],
        "inference_ms": 5.0,
    }
    client.publish(f"{TOPIC}/detection", json.dumps(body).encode())


def write_moving_video(
    path: Path, seconds: float = 4.0, fps: int = 10, size: tuple[int, int] = (320, 240)
) -> None:
    """A box crossing the picture: every frame differs, as in a real scene."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(int(seconds * fps)):
            image = Image.new("RGB", size, (40, 60, 80))
            x = index * (size[0] - 40) // int(seconds * fps)
            ImageDraw.Draw(image).rectangle([x, 80, x + 40, 200], fill=(230, 200, 40))
            container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode(None))


def decode_alone(media: bytes) -> list[float]:
    """Decode one chunk on its own with PyAV; the frames' presentation times (s)."""
    import av

    with av.open(io.BytesIO(media)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        return [float(frame.time) for frame in container.decode(stream)]


def spool_files(spool: Path) -> set[tuple[str, int]]:
    return {(p.parent.name, int(p.stem)) for p in spool.rglob("*.chunk")}
