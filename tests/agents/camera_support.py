"""Helpers for the camera agent's tests: sample pictures, an agent run in a thread, commands."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image
from skimage import data

from bobby_edge.camera.agent import CameraAgent
from bobby_edge.config import load_camera
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe, Received

SAMPLES = ("astronaut", "chelsea", "coffee", "rocket")


def write_samples(folder: Path, size: tuple[int, int] = (320, 240), png: bool = False) -> list[Path]:
    """scikit-image's pictures as JPEG files of `size` (or PNG files at their own size)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, name in enumerate(SAMPLES):
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        if png:
            path = folder / f"{index:02d}-{name}.png"
            image.save(path)
        else:
            path = folder / f"{index:02d}-{name}.jpg"
            image.resize(size).save(path, quality=85)
        paths.append(path)
    return paths


def jpeg_dimensions(payload: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(payload)) as image:
        assert image.format == "JPEG"
        return image.size


def camera_config(broker: Mosquitto, source: str, **options: Any) -> Any:
    flags = {
        "broker": broker.url,
        "id": "cam1",
        "source": source,
        "fps": 10.0,
        "width": 320,
        "height": 240,
        "stats_interval": 0.5,
        "preview_interval": 60.0,
        "preview_width": 80,
        "state_dir": str(broker.workdir.parent / "agent-state"),
        "record": False,  # recording has its own tests (tests/agents/test_recording*.py)
        **options,
    }
    return load_camera(flags, environ={})


@contextmanager
def running_agent(broker: Mosquitto, source: str, **options: Any) -> Iterator[CameraAgent]:
    """A CameraAgent in a thread of this process; stopped (and its thread joined) on exit."""
    agent = CameraAgent(camera_config(broker, source, **options))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            agent.run()
        except BaseException as err:  # surfaced to the test below
            errors.append(err)

    thread = threading.Thread(target=run, name="camera-agent", daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.request_stop()
        thread.join(10)
        assert not thread.is_alive(), "the camera agent did not stop within 10 s"
        assert not errors, f"the camera agent failed: {errors!r}"


TOPIC = "bobby/camera/cam1"


def send_command(probe: Probe, payload: dict[str, Any] | bytes, timeout: float = 30.0) -> dict[str, Any]:
    """Publish a `set` and return the next ack (as a dict)."""
    since = probe.mark()
    body = payload if isinstance(payload, bytes) else json.dumps({"v": 1, **payload}).encode()
    probe.publish(f"{TOPIC}/set", body)
    ack = probe.on_topic(f"{TOPIC}/ack", timeout=timeout, since=since)
    result: dict[str, Any] = json.loads(ack.payload)
    return result


def wait_count(probe: Probe, topic: str, count: int, timeout: float = 5.0, since: int = 0) -> None:
    """Wait until `count` messages on `topic` have arrived."""
    deadline = time.monotonic() + timeout
    while probe.count(topic, since) < count:
        if time.monotonic() > deadline:
            seen = probe.count(topic, since)
            raise TimeoutError(f"only {seen} of {count} messages on {topic} in {timeout}s")
        time.sleep(0.02)


def frame_times(messages: list[Received]) -> list[float]:
    return [float(m.user_properties["frame_time"]) for m in messages]


def frames(probe: Probe, since: int = 0) -> list[Received]:
    return [m for m in probe.messages[since:] if m.topic == f"{TOPIC}/frame"]
