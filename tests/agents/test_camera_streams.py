"""Stream sources: rtsp:// against a real RTSP server (GStreamer's, from Debian), and v4l2:.

The RTSP camera pays out an H.264 clip of the sample scenes as it is (rtph264pay).
v4l2: no virtual V4L2 device can exist here (v4l2loopback is a kernel module; the test
machine has none), so the v4l2 path — the same V4l2Source class and reader — replays a
recorded MJPEG stream through FFmpeg's mjpeg demuxer instead of its video4linux2 one.
"""

from __future__ import annotations

import errno
import io
import json
import re
import statistics
import subprocess
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from bobby_edge import protocol
from bobby_edge.camera import sources
from bobby_edge.camera.recording.packets import EncodedPacket, StreamFormat
from bobby_edge.camera.sources import CaptureError, SourceOptions, VideoOptions
from bobby_edge.camera.sources.live import StreamOptions
from bobby_edge.camera.sources.rtsp import RtspOptions
from bobby_edge.camera.sources.v4l2 import V4l2Source
from bobby_edge.cli import main as cli_main
from bobby_edge.config import ConfigError
from bobby_edge.errors import StartupError
from tests.agents import test_detector_fixtures as fx
from tests.agents.camera_support import TOPIC, frame_times, frames, jpeg_dimensions, running_agent
from tests.agents.conftest import spawn_agent
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe, Received
from tests.support.rtsp_server import RtspCamera, scene, write_h264_clip
from tests.support.waiting import wait_until

model_path = fx.model_path

USER, PASSWORD = "viewer", "s3cr#t pa:ss@word"  # characters that must be URL-quoted
CREDENTIALS = RtspOptions(source_username=USER, source_password=PASSWORD)
OPTIONS = SourceOptions(320, 240, 4.0, 80, own=(CREDENTIALS, StreamOptions(stream_timeout=2.0)))


@pytest.fixture
def rtsp_camera(tmp_path: Path) -> Iterator[RtspCamera]:
    """An RTSP camera asking for a password: astronaut (a person) then chelsea (a cat), 10 fps."""
    clip, sizes = write_h264_clip(tmp_path / "clip", scenes=("astronaut", "chelsea"), fps=10)
    camera = RtspCamera(tmp_path / "rtsp", clip, sizes, fps=10, user=USER, password=PASSWORD).start()
    yield camera
    camera.stop()


def source_problem(stats: dict[str, Any]) -> str | None:
    """The detail of the `source_unavailable` problem in a stats payload, or None."""
    return next(
        (p["detail"] for p in stats.get("problems", []) if p["code"] == protocol.SOURCE_UNAVAILABLE), None
    )


def stats(probe: Probe, since: int = 0) -> list[dict[str, Any]]:
    return [
        protocol.parse_message(m.topic, m.payload)[1]
        for m in probe.messages[since:]
        if m.topic == f"{TOPIC}/stats"
    ]


def wait_stats(
    probe: Probe, predicate: Callable[[dict[str, Any]], bool], timeout: float, since: int = 0
) -> None:
    def matching(m: Received) -> bool:
        return m.topic == f"{TOPIC}/stats" and predicate(protocol.parse_message(m.topic, m.payload)[1])

    probe.wait_for(matching, timeout=timeout, since=since)


def rtsp_agent(broker: Mosquitto, camera: RtspCamera, **options: Any) -> Any:
    return running_agent(
        broker,
        camera.url,
        source_username=USER,
        source_password=PASSWORD,
        stream_timeout=2.0,
        **options,
    )


# --- RTSP -------------------------------------------------------------------------------


def test_rtsp_frames_at_the_configured_rate_and_info(
    broker: Mosquitto, probe: Probe, rtsp_camera: RtspCamera
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with rtsp_agent(broker, rtsp_camera, fps=4.0):
        wait_until(lambda: len(frames(probe)) >= 13, timeout=30, what="13 frames")
        info_message = probe.wait_for(
            lambda m: m.topic == f"{TOPIC}/info" and "stream_codec" in json.loads(m.payload)
        )
    _, info = protocol.parse_message(info_message.topic, info_message.payload)
    assert info["source"] == "rtsp"
    assert info["stream_codec"] == "h264"
    assert info["stream_resolution"] == [320, 240]
    assert info["stream_fps"] == 10.0
    assert info["model"] == f"rtsp: {rtsp_camera.url}"
    assert PASSWORD not in info_message.payload.decode()
    sent = frames(probe)
    assert all(jpeg_dimensions(m.payload) == (320, 240) for m in sent)
    # The agent's schedule, not the camera's 10 fps: one frame every 1/4 s.
    gaps = [b - a for a, b in zip(frame_times(sent[1:]), frame_times(sent[2:]), strict=False)]
    assert statistics.median(gaps) == pytest.approx(0.25, abs=0.05)
    assert all(source_problem(s) is None for s in stats(probe)[1:])


def test_rtsp_frames_become_detections(
    broker: Mosquitto, probe: Probe, rtsp_camera: RtspCamera, model_path: Path
) -> None:
    probe.subscribe("bobby/#")
    with fx.running_detector(broker, probe, model_path), rtsp_agent(broker, rtsp_camera, fps=2.0):
        detection = probe.on_topic(f"{TOPIC}/detection", timeout=60)
    payload = protocol.parse_message(detection.topic, detection.payload)[1]
    assert payload["score"] >= 0.5
    assert payload["detector"] == "det1"


def test_rtsp_stream_loss_is_reported_then_cleared_after_a_camera_restart(
    broker: Mosquitto, probe: Probe, rtsp_camera: RtspCamera
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with rtsp_agent(broker, rtsp_camera, fps=4.0):
        probe.on_topic(f"{TOPIC}/frame", timeout=30)
        rtsp_camera.stop()  # killed: the camera lost power
        lost = probe.mark()
        wait_stats(probe, lambda s: source_problem(s) is not None, timeout=20, since=lost)
        error = next(p for s in stats(probe, lost) if (p := source_problem(s)))
        assert "stream lost" in error or "cannot connect" in error
        assert PASSWORD not in error

        rtsp_camera.start()  # same port: the camera is back after its reboot
        back = probe.mark()
        wait_stats(
            probe,
            lambda s: source_problem(s) is None and s["source_reconnects"] >= 1 and s["fps"] > 0,
            timeout=45,
            since=back,
        )
        probe.on_topic(f"{TOPIC}/frame", since=back)


def test_rtsp_stalled_stream_is_noticed_not_waited_on(
    broker: Mosquitto, probe: Probe, rtsp_camera: RtspCamera
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with rtsp_agent(broker, rtsp_camera, fps=4.0):
        probe.on_topic(f"{TOPIC}/frame", timeout=30)
        rtsp_camera.freeze()  # the connection stays open; nothing comes through it
        frozen = probe.mark()
        wait_stats(probe, lambda s: source_problem(s) is not None, timeout=20, since=frozen)
        rtsp_camera.thaw()
        wait_stats(
            probe, lambda s: source_problem(s) is None and s["fps"] > 0, timeout=45, since=probe.mark()
        )


def test_rtsp_wrong_password_is_a_clear_error_without_the_password(
    rtsp_camera: RtspCamera,
    tmp_path: Path,
    agent_process: list[subprocess.Popen[bytes]],
    broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = SourceOptions(
        320, 240, 2.0, 80, own=(RtspOptions(source_username=USER, source_password="not-the-password"),)
    )
    with pytest.raises(StartupError, match="refused the user name or password") as caught:
        sources.create(rtsp_camera.url, wrong).open()
    assert "not-the-password" not in str(caught.value)

    # The same through the real process, with the credentials in the environment file's variables.
    log = tmp_path / "agent.log"
    monkeypatch.setenv("BOBBY_SOURCE_USERNAME", USER)
    monkeypatch.setenv("BOBBY_SOURCE_PASSWORD", "wrong-pass-123")
    args = ("camera", "--broker", broker.url, "--id", "cam1", "--source", rtsp_camera.url)
    proc = spawn_agent(agent_process, *args, log=log)
    assert proc.wait(30) == 1
    text = log.read_text()
    assert "refused the user name or password" in text
    assert "wrong-pass-123" not in text


def test_rtsp_credentials_in_the_url_are_redacted_everywhere(
    rtsp_camera: RtspCamera, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = rtsp_camera.url_with(USER, "pw-in-url-42")
    source = sources.create(url, SourceOptions(320, 240, 2.0, 80))
    assert "pw-in-url-42" not in source.description
    monkeypatch.setenv("BOBBY_SOURCE_PASSWORD", "pw-from-env-42")
    assert cli_main(["camera", "--source", url, "--validate-config"]) == 0
    printed = capsys.readouterr().out
    assert "pw-in-url-42" not in printed
    assert "pw-from-env-42" not in printed
    assert f"rtsp://{USER}:***@127.0.0.1" in printed


def test_rtsp_bad_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="full URL"):
        sources.create("rtsp://", OPTIONS)
    with pytest.raises(ConfigError, match="port is not a number"):
        sources.create("rtsp://user:pw-x@cam:abc/stream", OPTIONS)
    assert sources.split_spec("rtsps://cam/stream") == ("rtsps", "rtsps://cam/stream")


def nal_units(annex_b: bytes) -> list[bytes]:
    return [unit.rstrip(b"\x00") for unit in re.split(b"\x00\x00\x01", annex_b) if unit.strip(b"\x00")]


class RecordingSink:
    """What the recorder sees: formats and packets (bobby_edge.camera.recording.packets.PacketSink)."""

    def __init__(self) -> None:
        self.formats: list[StreamFormat] = []
        self.packets: list[EncodedPacket] = []

    def set_format(self, stream_format: StreamFormat) -> None:
        self.formats.append(stream_format)

    def write(self, packet: EncodedPacket) -> None:
        self.packets.append(packet)


def test_rtsp_hands_the_cameras_own_packets_to_the_recorder(rtsp_camera: RtspCamera, tmp_path: Path) -> None:
    sink = RecordingSink()
    source = sources.create(rtsp_camera.url, OPTIONS)
    assert source.record_to(sink, VideoOptions(1280, 720, 15.0)) is True
    source.open()
    try:
        wait_until(lambda: sum(p.keyframe for p in sink.packets) >= 3, timeout=30, what="three keyframes")
    finally:
        source.close()
    (fmt,) = sink.formats
    assert (fmt.codec, fmt.width, fmt.height, fmt.fps) == ("h264", 320, 240, 10.0)
    times = [p.time for p in sink.packets]
    assert times == sorted(times)
    # The clip's own NAL units, byte for byte: nothing was decoded and encoded again
    # (start codes may be spelt 3 or 4 bytes long by the RTP depacketiser).
    clip_units = set(nal_units((tmp_path / "clip" / "clip.h264").read_bytes()))
    received = [unit for p in sink.packets for unit in nal_units(p.data)]
    assert sum(len(u) > 1000 for u in received) >= 3  # at least the keyframes' slices
    assert set(received) <= clip_units
    # And they remux into a playable file without a codec in between.
    first_key = next(i for i, p in enumerate(sink.packets) if p.keyframe)
    out = tmp_path / "remuxed.ts"
    with av.open(str(out), "w", format="mpegts") as container:
        stream = container.add_stream("h264", rate=10)
        stream.width, stream.height = 320, 240
        for index, packet in enumerate(sink.packets[first_key:]):
            av_packet = av.Packet(packet.data)
            av_packet.stream = stream
            av_packet.time_base = Fraction(1, 90000)
            av_packet.pts = av_packet.dts = index * 9000  # 10 fps
            container.mux(av_packet)
    with av.open(str(out)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded >= len(sink.packets) - first_key - 1


def test_detect_on_the_sub_stream_record_the_main_stream(rtsp_camera: RtspCamera, tmp_path: Path) -> None:
    clip, sizes = write_h264_clip(tmp_path / "main-clip", scenes=("astronaut",), size=(640, 480), fps=10)
    main = RtspCamera(tmp_path / "main", clip, sizes, fps=10, user=USER, password=PASSWORD).start()
    try:
        sink = RecordingSink()
        options = SourceOptions(
            320,
            240,
            4.0,
            80,
            own=(RtspOptions(source_username=USER, source_password=PASSWORD, record_stream=main.url),),
        )
        source = sources.create(rtsp_camera.url, options)
        assert source.record_to(sink, VideoOptions(640, 480, 10.0)) is True
        source.open()
        try:
            wait_until(lambda: sum(p.keyframe for p in sink.packets) >= 2, timeout=30, what="two keyframes")
            assert jpeg_dimensions(source.read()) == (320, 240)  # detection: the sub-stream
            assert source.stream_info()["stream_resolution"] == [320, 240]
        finally:
            source.close()
    finally:
        main.stop()
    assert [(f.width, f.height) for f in sink.formats] == [(640, 480)]  # recording: the main stream
    main_units = set(nal_units(clip.read_bytes()))
    assert {u for p in sink.packets for u in nal_units(p.data)} <= main_units


# --- v4l2 -------------------------------------------------------------------------------


def record_mjpeg(path: Path, scenes: tuple[str, ...] = ("astronaut", "coffee")) -> list[bytes]:
    """An MJPEG stream as a webcam sends it (one JPEG per frame); returns the JPEGs."""
    jpegs: list[bytes] = []
    with av.open(str(path), "w", format="mjpeg") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuvj420p"
        for name in scenes:
            for _ in range(5):
                for packet in stream.encode(av.VideoFrame.from_image(scene(name, (320, 240)))):
                    jpegs.append(bytes(packet))
                    container.mux(packet)
        for packet in stream.encode(None):
            jpegs.append(bytes(packet))
            container.mux(packet)
    return jpegs


@pytest.fixture
def recorded_webcam(monkeypatch: pytest.MonkeyPatch) -> None:
    """The v4l2 source reads a recorded MJPEG stream instead of /dev/video*: same code after open."""
    monkeypatch.setattr(V4l2Source, "demuxer", "mjpeg")


@pytest.mark.usefixtures("recorded_webcam")
def test_v4l2_mjpeg_frames_pass_through_untouched(broker: Mosquitto, probe: Probe, tmp_path: Path) -> None:
    jpegs = record_mjpeg(tmp_path / "webcam.mjpeg")
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(broker, f"v4l2:{tmp_path / 'webcam.mjpeg'}", fps=4.0, width=640, height=480):
        wait_until(lambda: len(frames(probe)) >= 3, timeout=30, what="3 frames")
        info_message = probe.wait_for(
            lambda m: m.topic == f"{TOPIC}/info" and "stream_codec" in json.loads(m.payload)
        )
    assert all(m.payload in jpegs for m in frames(probe))  # the webcam's own JPEG bytes
    info = json.loads(info_message.payload)
    assert (info["source"], info["stream_codec"]) == ("v4l2", "mjpeg")
    assert info["resolution"] == [320, 240]  # the webcam's size, not a re-encode to 640x480


def test_v4l2_missing_device_not_a_camera_and_busy() -> None:
    with pytest.raises(ConfigError, match=r"no device /dev/video97: is the webcam plugged in"):
        sources.create("v4l2:/dev/video97", OPTIONS).open()
    with pytest.raises(StartupError, match="not a video capture device"):
        sources.create("v4l2:/dev/null", OPTIONS).open()  # a real device node, not a camera


def test_v4l2_busy_device(monkeypatch: pytest.MonkeyPatch) -> None:
    def busy(*_args: Any, **_kwargs: Any) -> None:
        # What the kernel answers when another program holds the webcam (no webcam here to hold).
        raise av.error.OSError(errno.EBUSY, "Device or resource busy", "/dev/null")

    monkeypatch.setattr(av, "open", busy)
    with pytest.raises(
        StartupError, match=r"busy: another program is using the webcam \(find it with `fuser"
    ):
        sources.create("v4l2:/dev/null", OPTIONS).open()


def test_stream_read_without_a_new_frame_is_a_capture_error(recorded_webcam: None, tmp_path: Path) -> None:
    record_mjpeg(tmp_path / "webcam.mjpeg", scenes=("coffee",))
    source = sources.create(f"v4l2:{tmp_path / 'webcam.mjpeg'}", OPTIONS)
    source.open()
    try:
        with Image.open(io.BytesIO(source.read())) as image:
            assert image.format == "JPEG"
    finally:
        source.close()
    with pytest.raises(CaptureError, match="not open"):
        source.read()
