"""Native video: an RTSP camera announces its stream's URL without credentials (`stream_url`
in `info`), and that URL plays with the camera's login put back in, as Home Assistant does
for an owner who allows it (custom_components/bobby_camera/live.py, native_stream_url).
Against GStreamer's real RTSP server asking for a password."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import av
import pytest

from bobby_edge import protocol
from bobby_edge.camera.sources.base import SourceOptions
from bobby_edge.camera.sources.rtsp import RtspOptions, RtspSource
from tests.agents.camera_support import TOPIC, running_agent
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.rtsp_server import RtspCamera, write_h264_clip

USER, PASSWORD = "viewer", "s3cr#t pa:ss@word"


@pytest.fixture
def rtsp_camera(tmp_path: Path) -> Iterator[RtspCamera]:
    clip, sizes = write_h264_clip(tmp_path / "clip", scenes=("astronaut",), fps=10)
    camera = RtspCamera(tmp_path / "rtsp", clip, sizes, fps=10, user=USER, password=PASSWORD).start()
    yield camera
    camera.stop()


def first_frame(url: str) -> tuple[int, int]:
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=(10, 10)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def test_the_info_names_the_stream_without_its_login(
    broker: Mosquitto, probe: Probe, rtsp_camera: RtspCamera
) -> None:
    probe.subscribe(f"{TOPIC}/info")
    with running_agent(broker, rtsp_camera.url, fps=2.0, source_username=USER, source_password=PASSWORD):
        info = probe.wait_for(lambda m: "stream_codec" in json.loads(m.payload), timeout=30).payload.decode()
    _, parsed = protocol.parse_message(f"{TOPIC}/info", info)
    assert parsed["stream_url"] == rtsp_camera.url  # type: ignore[typeddict-item]
    for secret in (PASSWORD, quote(PASSWORD, safe=""), USER):
        assert secret not in info
    # Without the login the camera refuses; with it put back in, the stream plays.
    with pytest.raises(av.error.HTTPUnauthorizedError):
        first_frame(rtsp_camera.url)
    scheme, rest = rtsp_camera.url.split("://")
    with_login = f"{scheme}://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@{rest}"
    assert first_frame(with_login) == (320, 240)


@pytest.mark.parametrize(
    ("source", "record", "offered"),
    [
        ("rtsp://cam.local:554/sub", None, "rtsp://cam.local:554/sub"),
        # The main stream when it is recorded: the better picture for watching.
        ("rtsp://admin:pw@cam.local/sub", "rtsp://admin:pw@cam.local/main", "rtsp://cam.local/main"),
        # A secret in the query cannot be taken out without breaking the URL: no offer.
        ("rtsp://cam.local/live?user=admin&password=pw", None, None),
    ],
)
def test_which_url_is_offered(source: str, record: str | None, offered: str | None) -> None:
    rtsp = RtspSource(source, SourceOptions(320, 240, 2.0, 80, own=(RtspOptions(record_stream=record),)))
    assert rtsp.stream_info().get("stream_url") == offered
