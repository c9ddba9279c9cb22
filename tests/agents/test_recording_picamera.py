"""Recording from a Pi camera: picamera2's H264Encoder feeds the recorder, detection frames
come from the lores stream. Against a fake picamera2 that follows its documented API; the
fake encoder makes real H.264 (libx264) so the chunks are real."""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tests.agents.camera_support import jpeg_dimensions, running_agent
from tests.agents.recording_support import TOPIC, Core, decode_alone, publish_detection
from tests.agents.test_camera_sources import FakePicamera2
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.waiting import wait_until


class FakeOutput:
    """picamera2.outputs.Output: start/stop and outputframe(frame, keyframe, timestamp, packet, audio)."""

    def __init__(self, pts: Any = None) -> None:
        self.recording = False

    def start(self) -> None:
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def outputframe(
        self,
        frame: bytes,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        pass


class FakeH264Encoder:
    """picamera2.encoders.H264Encoder(bitrate, repeat, iperiod, framerate, ...): real H.264 from libx264."""

    instances: ClassVar[list[FakeH264Encoder]] = []

    def __init__(
        self,
        bitrate: int | None = None,
        repeat: bool = True,
        iperiod: int = 30,
        framerate: float = 30,
        **_: Any,
    ) -> None:
        self.bitrate, self.repeat, self.iperiod, self.framerate = bitrate, repeat, iperiod, framerate
        self.output: Any = None
        self.size = (0, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        FakeH264Encoder.instances.append(self)

    def start(self, output: Any, size: tuple[int, int]) -> None:
        self.output, self.size = output, size
        output.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self.output.stop()

    def _run(self) -> None:
        import av

        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = *self.size, "yuv420p"
        ctx.time_base = Fraction(1, 1_000_000)
        ctx.gop_size = self.iperiod
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency"}
        ctx.open()
        index = 0
        while not self._stop.wait(1 / self.framerate):
            image = np.full((self.size[1], self.size[0], 3), 60, np.uint8)
            image[:, (index * 8) % self.size[0] :][:, :16] = 220
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            timestamp = time.monotonic_ns() // 1000  # the sensor timestamp, µs
            frame.pts = timestamp
            for packet in ctx.encode(frame):
                self.output.outputframe(bytes(packet), packet.is_keyframe, packet.pts)
            index += 1


class RecordingPicamera2(FakePicamera2):
    def create_video_configuration(
        self, main: dict[str, Any] | None = None, lores: Any = None, **kwargs: Any
    ) -> dict[str, Any]:  # type: ignore[override]
        config = super().create_video_configuration(main=main, **kwargs)
        if lores is not None:
            config["lores"] = {"format": "YUV420", **lores}
        return config

    def start_encoder(
        self,
        encoder: Any = None,
        output: Any = None,
        pts: Any = None,
        quality: Any = None,
        name: str | None = None,
    ) -> None:
        assert self.started
        assert self.camera_config is not None
        encoder.start(output, self.camera_config[name or "main"]["size"])
        self.encoder = encoder

    def stop_encoder(self, encoders: Any = None) -> None:
        self.encoder.stop()

    def capture_array(self, name: str = "main", wait: Any = None, signal_function: Any = None) -> Any:
        assert self.started
        assert self.camera_config is not None
        width, height = self.camera_config[name]["size"]
        return np.full((height * 3 // 2, width), 128, np.uint8)  # grey YUV420


@pytest.fixture
def fake_recording_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[RecordingPicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = RecordingPicamera2  # type: ignore[attr-defined]
    encoders = types.ModuleType("picamera2.encoders")
    encoders.H264Encoder = FakeH264Encoder  # type: ignore[attr-defined]
    outputs = types.ModuleType("picamera2.outputs")
    outputs.Output = FakeOutput  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setitem(sys.modules, "picamera2.encoders", encoders)
    monkeypatch.setitem(sys.modules, "picamera2.outputs", outputs)
    FakePicamera2.instances = []
    FakeH264Encoder.instances = []
    return RecordingPicamera2


@pytest.fixture
def core(broker: Mosquitto) -> Iterator[Core]:
    client = Core(broker.port)
    yield client
    client.close()


def test_picamera_records_from_its_hardware_encoder(
    broker: Mosquitto,
    probe: Probe,
    core: Core,
    fake_recording_picamera2: type[RecordingPicamera2],
    tmp_path: Path,
) -> None:
    probe.subscribe(f"{TOPIC}/frame")
    options = {
        "record": True, "fps": 2.0, "width": 320, "height": 240,
        "record_width": 640, "record_height": 480, "record_fps": 10.0,
        "pre_roll": 2.0, "post_roll": 1.0, "chunk_seconds": 2.0, "spool_dir": str(tmp_path / "spool"),
    }  # fmt: skip
    with running_agent(broker, "picamera", **options) as agent:
        wait_until(lambda: FakeH264Encoder.instances, 10, "the camera opened")
        (camera,) = FakePicamera2.instances
        config = camera.camera_config
        assert config is not None
        assert config["main"]["size"] == (640, 480)  # the video stream, at the recording size
        assert config["lores"]["size"] == (320, 240)  # detection frames, independent
        assert config["controls"]["FrameRate"] == 10.0  # the sensor runs at the video rate
        (encoder,) = FakeH264Encoder.instances
        assert encoder.iperiod == 20
        assert encoder.repeat
        frame = probe.on_topic(f"{TOPIC}/frame", timeout=10)
        assert jpeg_dimensions(frame.payload) == (320, 240)
        wait_until(
            lambda: (p := agent.recorder.ring.since(0)) and p[-1].time - p[0].time >= 2.5, 20, "a pre-roll"
        )
        trigger = time.time()
        publish_detection(probe, trigger)
        core.wait(core.finished, 30, "the event's last chunk")
        (chunks,) = core.events().values()
        assert [c.header["seq"] for c in chunks] == list(range(len(chunks)))
        assert chunks[0].header["start"] <= trigger - 2.0 + 0.1
        for chunk in chunks:
            if chunk.media:
                assert decode_alone(chunk.media)
