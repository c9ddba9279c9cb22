"""Frame sources: images:DIR, http:URL, video:FILE, and picamera against a fake picamera2."""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image
from skimage import data

from bobby_edge.camera import sources
from bobby_edge.camera.sources import CaptureError, SourceOptions
from bobby_edge.camera.sources import video as video_module
from bobby_edge.config import ConfigError
from bobby_edge.errors import StartupError
from tests.agents.camera_support import TOPIC, jpeg_dimensions, running_agent, send_command, write_samples
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.waiting import wait_until

OPTIONS = SourceOptions(width=320, height=240, fps=10.0, jpeg_quality=80)


def open_source(spec: str, options: SourceOptions = OPTIONS) -> sources.FrameSource:
    source = sources.create(spec, options)
    source.open()
    return source


def test_registry_knows_every_scheme() -> None:
    assert {"picamera", "images", "video", "http"} <= set(sources.schemes())
    with pytest.raises(ConfigError, match="not known: use one of"):
        sources.create("webcam:0", OPTIONS)
    assert sources.split_spec("http://cam.local/snap.jpg") == ("http", "http://cam.local/snap.jpg")
    assert sources.split_spec("images:/srv/pics") == ("images", "/srv/pics")


# --- images:DIR --------------------------------------------------------------------------


def test_images_pass_jpeg_of_the_right_size_through_untouched(tmp_path: Path) -> None:
    paths = write_samples(tmp_path, size=(320, 240))
    source = open_source(f"images:{tmp_path}")
    read = [source.read() for _ in range(len(paths) + 1)]
    assert read[: len(paths)] == [p.read_bytes() for p in paths]  # same bytes, name order
    assert read[-1] == read[0]  # looped
    assert source.size == (320, 240)


def test_images_reencode_png_and_resize_other_sizes(tmp_path: Path) -> None:
    write_samples(tmp_path, png=True)  # 512x512 and other sizes, PNG
    Image.fromarray(data.camera()).save(tmp_path / "zz-camera.jpg")  # grey 512x512 JPEG
    source = open_source(f"images:{tmp_path}")
    for _ in range(5):
        frame = source.read()
        assert frame.startswith(b"\xff\xd8\xff")
        assert jpeg_dimensions(frame) == (320, 240)


def test_images_skip_a_corrupt_file_and_pick_up_new_ones(tmp_path: Path) -> None:
    write_samples(tmp_path)
    (tmp_path / "01-broken.jpg").write_bytes(b"\xff\xd8\xffnot really a jpeg")
    source = open_source(f"images:{tmp_path}")
    source.read()
    with pytest.raises(CaptureError, match=r"01-broken\.jpg"):
        source.read()
    assert jpeg_dimensions(source.read()) == (320, 240)  # and on with the next one
    Image.fromarray(data.camera()).resize((320, 240)).save(tmp_path / "99-new.jpg")
    (tmp_path / "01-broken.jpg").unlink()
    # The rest of this pass (2 files), then a whole new pass of 5 files without errors.
    later = [source.read() for _ in range(7)]
    assert later[-1] == (tmp_path / "99-new.jpg").read_bytes()
    assert later[-1] not in later[:-1]


def test_images_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        open_source(f"images:{tmp_path / 'missing'}")
    with pytest.raises(ConfigError, match="needs a folder"):
        open_source("images:")
    with pytest.raises(StartupError, match=r"no \.jpg, \.jpeg or \.png"):
        open_source(f"images:{tmp_path}")


# --- http:URL --------------------------------------------------------------------------


class Snapshots:
    """A small HTTP server standing in for an IP camera."""

    def __init__(self) -> None:
        buf = io.BytesIO()
        Image.fromarray(data.chelsea()).resize((160, 120)).save(buf, format="JPEG")
        self.jpeg = buf.getvalue()
        self.requests = 0
        self.auth_seen: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests += 1
                if self.path == "/flaky.jpg":  # every other answer is an HTML error page
                    self.path = "/page" if owner.requests % 2 else "/snap.jpg"
                if self.path == "/auth.jpg":
                    owner.auth_seen.append(self.headers.get("Authorization"))
                    expected = "Basic " + base64.b64encode(b"user:s3cret").decode()
                    if self.headers.get("Authorization") != expected:
                        self.send_error(401)
                        return
                    self.path = "/snap.jpg"
                if self.path == "/slow.jpg":
                    time.sleep(2)
                    self.path = "/snap.jpg"
                if self.path == "/snap.jpg":
                    body, kind = owner.jpeg, "image/jpeg"
                elif self.path == "/page":
                    body, kind = b"<html>camera busy</html>", "text/html"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def camera_http() -> Iterator[Snapshots]:
    server = Snapshots()
    yield server
    server.close()


def test_http_passes_the_snapshot_through(camera_http: Snapshots) -> None:
    source = open_source(f"http:{camera_http.url}/snap.jpg")
    assert source.read() == camera_http.jpeg
    assert source.size == (160, 120)  # the camera's own size, learnt from the snapshot


def test_http_errors_are_capture_errors(camera_http: Snapshots) -> None:
    with pytest.raises(CaptureError, match="did not send a JPEG"):
        open_source(f"http:{camera_http.url}/page").read()
    with pytest.raises(CaptureError, match="HTTP 404"):
        open_source(f"{camera_http.url}/nothing-here").read()
    with pytest.raises(CaptureError, match="timed out"):
        open_source(f"http:{camera_http.url}/slow.jpg").read()  # 1 s timeout at 10 fps
    with pytest.raises(ConfigError, match="full URL"):
        sources.create("http:cam.local/snap.jpg", OPTIONS)


def test_http_credentials_go_in_a_header_not_in_info(camera_http: Snapshots) -> None:
    url = camera_http.url.replace("http://", "http://user:s3cret@") + "/auth.jpg"
    source = open_source(f"http:{url}")
    assert source.read() == camera_http.jpeg
    assert "s3cret" not in source.description
    assert source.description == f"http: {camera_http.url}/auth.jpg"


def test_agent_counts_non_jpeg_answers_and_announces_the_real_size(
    broker: Mosquitto, probe: Probe, camera_http: Snapshots
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(broker, f"http:{camera_http.url}/flaky.jpg", fps=10.0):
        stats = probe.wait_for(
            lambda m: (
                m.topic == f"{TOPIC}/stats"
                and json.loads(m.payload)["capture_errors"] >= 2
                and json.loads(m.payload)["frames_sent"] >= 2
            )
        )
        info = probe.wait_for(
            lambda m: m.topic == f"{TOPIC}/info" and json.loads(m.payload)["resolution"] == [160, 120]
        )
        frame = probe.on_topic(f"{TOPIC}/frame")
    assert frame.payload == camera_http.jpeg
    assert json.loads(info.payload)["model"] == f"http: {camera_http.url}/flaky.jpg"
    assert json.loads(stats.payload)["capture_slow"] is False


# --- video:FILE ------------------------------------------------------------------------

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)]


def write_video(path: Path) -> None:
    """Five solid-colour frames at 10 fps: 0.5 s of video."""
    import av  # in the test extra: a missing PyAV fails here rather than skipping

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for colour in COLOURS:
            frame = av.VideoFrame.from_image(Image.new("RGB", (160, 120), colour))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def colour_of(frame: bytes) -> int:
    with Image.open(io.BytesIO(frame)) as image:
        assert image.size == (320, 240)
        mean = image.convert("RGB").resize((1, 1)).getpixel((0, 0))
    return min(
        range(len(COLOURS)), key=lambda i: sum(abs(a - b) for a, b in zip(mean, COLOURS[i], strict=True))
    )


def test_video_plays_on_its_own_clock_and_loops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "demo.mp4"
    write_video(path)
    clock = [100.0]
    monkeypatch.setattr(video_module, "_now", lambda: clock[0])
    source = open_source(f"video:{path}")
    seen = []
    for at in (0.0, 0.05, 0.25, 0.42, 0.55, 0.78):  # video frames are at 0.0, 0.1, ... 0.4
        clock[0] = 100.0 + at
        seen.append(colour_of(source.read()))
    assert seen == [0, 0, 2, 4, 0, 2]  # after 0.5 s it starts over
    source.pause()
    clock[0] += 60  # a minute disabled: the video does not run on meanwhile
    source.resume()
    clock[0] += 0.1
    assert colour_of(source.read()) == 3
    source.close()


def test_video_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        open_source(f"video:{tmp_path / 'missing.mp4'}")
    (tmp_path / "not-a-video.mp4").write_bytes(b"hello")
    with pytest.raises(StartupError, match="cannot play"):
        open_source(f"video:{tmp_path / 'not-a-video.mp4'}")
    monkeypatch.setitem(sys.modules, "av", None)  # PyAV not installed
    with pytest.raises(
        StartupError, match=r"sudo apt install python3-av on Raspberry Pi OS, else pip install av"
    ):
        open_source(f"video:{tmp_path / 'not-a-video.mp4'}")


# --- picamera, against a fake picamera2 that follows picamera2's documented API ----------


class FakePicamera2:
    """picamera2.Picamera2 as its manual describes it, with no camera behind it."""

    instances: ClassVar[list[FakePicamera2]] = []
    frame_duration_limits = (50_000, 120_000_000, 33_333)  # µs: this sensor mode tops out at 20 fps

    def __init__(self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None) -> None:
        self.camera_num = camera_num
        self.options: dict[str, Any] = {}
        self.camera_properties = {"Model": "imx708"}
        self.camera_controls = {"FrameDurationLimits": self.frame_duration_limits}
        self.camera_config: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        self.controls_set: list[dict[str, Any]] = []
        self.qualities: list[int] = []
        FakePicamera2.instances.append(self)

    def create_video_configuration(  # noqa: PLR0917 - picamera2's own signature
        self,
        main: dict[str, Any] | None = None,
        lores: Any = None,
        raw: Any = None,
        transform: Any = None,
        colour_space: Any = None,
        buffer_count: int = 6,
        controls: dict[str, Any] | None = None,
        display: str = "main",
        encode: str = "main",
        queue: bool = True,
        sensor: Any = None,
        use_case: str = "video",
    ) -> dict[str, Any]:
        return {
            "use_case": use_case,
            "main": {"format": "XBGR8888", "size": (1280, 720), **(main or {})},
            "controls": dict(controls or {}),
            "buffer_count": buffer_count,
            "queue": queue,
        }

    create_still_configuration = create_video_configuration

    def configure(self, camera_config: dict[str, Any]) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        self.camera_config = camera_config

    def start(self, config: Any = None, show_preview: bool = False) -> None:
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.started = False
        self.closed = True

    def set_controls(self, controls: dict[str, Any]) -> None:
        self.controls_set.append(dict(controls))

    def capture_file(
        self,
        file_output: Any,
        name: str = "main",
        format: str | None = None,
        wait: Any = None,
        signal_function: Any = None,
    ) -> dict[str, Any]:
        if not self.started or self.camera_config is None:
            raise RuntimeError("camera is not running")  # the real one would wait forever
        quality = self.options.get("quality", 90)
        self.qualities.append(quality)
        image = Image.fromarray(data.astronaut()).resize(self.camera_config["main"]["size"])
        image.save(file_output, format=format, quality=quality)
        return {"SensorTimestamp": time.monotonic_ns()}


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    FakePicamera2.instances = []
    return FakePicamera2


def test_picamera_streams_and_obeys(
    broker: Mosquitto, probe: Probe, fake_picamera2: type[FakePicamera2]
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(broker, "picamera", fps=10.0, width=640, height=480, jpeg_quality=42):
        frame = probe.on_topic(f"{TOPIC}/frame")
        (camera,) = fake_picamera2.instances
        assert camera.camera_config is not None
        assert camera.camera_config["main"]["size"] == (640, 480)
        assert camera.camera_config["controls"] == {"FrameRate": 10.0}
        assert camera.options["quality"] == 42
        assert set(camera.qualities) == {42}  # picamera2's encoder used our quality
        assert jpeg_dimensions(frame.payload) == (640, 480)
        info = json.loads(probe.on_topic(f"{TOPIC}/info").payload)
        assert info["model"] == "picamera: imx708"
        assert info["resolution"] == [640, 480]

        assert send_command(probe, {"id": "off", "enabled": False})["ok"] is True
        wait_until(lambda: not camera.started, timeout=3.0)  # the sensor stops; the camera stays open
        assert not camera.closed
        assert send_command(probe, {"id": "on", "enabled": True})["ok"] is True
        wait_until(lambda: camera.started, timeout=3.0)
        probe.on_topic(f"{TOPIC}/frame", since=probe.mark())

        assert send_command(probe, {"id": "f", "fps": 15})["state"]["fps"] == 15.0
        wait_until(lambda: {"FrameRate": 15.0} in camera.controls_set, timeout=3.0)
        assert send_command(probe, {"id": "s", "fps": 0.2})["ok"] is True
        wait_until(lambda: camera.controls_set[-1] == {"FrameRate": 1.0}, timeout=3.0)  # the sensor's floor

        refused = send_command(probe, {"id": "too-fast", "fps": 25})
        assert refused["ok"] is False
        assert "at most 20.0" in refused["error"]
    assert camera.closed  # released at shutdown


def test_picamera_without_a_camera(
    fake_picamera2: type[FakePicamera2], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_camera(*_args: Any, **_kwargs: Any) -> None:
        raise IndexError("list index out of range")  # what picamera2 raises with no camera attached

    monkeypatch.setattr(sys.modules["picamera2"], "Picamera2", no_camera)
    with pytest.raises(StartupError, match="ribbon cable"):
        open_source("picamera")


def test_picamera_refusing_the_size_is_released(
    fake_picamera2: type[FakePicamera2], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: FakePicamera2, camera_config: dict[str, Any]) -> None:
        raise ValueError("size not supported")

    monkeypatch.setattr(fake_picamera2, "configure", refuse)
    with pytest.raises(StartupError, match="smaller --width/--height"):
        open_source("picamera")
    assert fake_picamera2.instances[0].closed
