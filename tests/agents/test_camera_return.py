"""Cameras back fast: frames again within seconds of a camera's return, however long it was away,
and nothing but a TCP knock at its port meanwhile (camera/sources/reach.py).

Issue 26 measured 17.4 s from a 12 s reboot of an RTSP camera to its frames: the reader's
backoff had grown to 8 s. Real parts: GStreamer's RTSP server (killed and restarted on the
same port, as a camera losing power), an HTTP server on a fixed port, Mosquitto. The
outages are the scenario (a sleep); every wait for a result is bounded, and the asserts
are on the mechanism. The figures are printed and recorded (`record_property`).

The 5-minute outages are left out of the normal run: `BOBBY_SLOW_TESTS=1 scripts/lane
agents313 tests/agents/test_camera_return.py -k 5min` runs them.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from skimage import data

from bobby_edge.camera.sources.reach import PROBE_INTERVAL, Attempt
from tests.agents.camera_support import TOPIC, running_agent
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.probe import Probe
from tests.support.rtsp_server import RtspCamera, write_h264_clip

USER, PASSWORD = "viewer", "s3cr#t pa:ss@word"
FRAMES_AGAIN_WITHIN = 60.0  # the bounded wait (a hang guard), not the target (5 s)
OUTAGES = [pytest.param(5.0, id="5s"), pytest.param(30.0, id="30s")]
SLOW = [
    pytest.mark.skipif(not os.environ.get("BOBBY_SLOW_TESTS"), reason="5 min: set BOBBY_SLOW_TESTS=1"),
    pytest.mark.timeout(600),
]
SLOW_OUTAGES = [pytest.param(300.0, id="5min", marks=SLOW)]


def between(history: list[Attempt], start: float, end: float, kind: str) -> list[Attempt]:
    return [a for a in history if start <= a.at < end and a.kind == kind]


def check_the_return(
    history: list[Attempt], lost: float, returning: float, answered: float, outage: float
) -> None:
    """While away: only TCP knocks, at most one per PROBE_INTERVAL, none answered; after the
    camera answers: the first knock answers and the full connection follows it at once."""
    assert between(history, lost, returning, "connect") == [], "full reconnects while the camera was away"
    knocks = between(history, lost, returning, "probe")
    assert knocks, "no reachability check while the camera was away"
    assert not any(k.ok for k in knocks)
    assert len(knocks) <= outage / PROBE_INTERVAL + 2  # a knock a second, no hammering
    answered_at_once(history, returning, answered)


def answered_at_once(history: list[Attempt], returning: float, answered: float) -> None:
    """From the camera's return: knocks fail only while its port may still be closed (before
    `answered`), and the first knock that gets an answer is followed at once by the full
    connection (a camera still booting may refuse that one: then the backoff starts from 1 s)."""
    after = [a for a in history if a.at >= returning]
    first_ok = next(i for i, a in enumerate(after) if a.kind == "probe" and a.ok)
    assert all(a.kind == "probe" and a.at < answered for a in after[:first_ok])
    assert after[first_ok + 1].kind == "connect", "no reconnect right after the camera answered"
    assert any(a.kind == "connect" and a.ok for a in after[first_ok + 1 :])


def outage_figures(kind: str, outage: float, back_after: float, record: pytest.RecordProperty) -> None:
    record(f"{kind}_seconds_back_after_{outage:.0f}_s_outage", round(back_after, 2))
    print(f"\n{kind}: frames again {back_after:.2f} s after the camera's return (outage {outage:.0f} s)")


# --- RTSP -------------------------------------------------------------------------------


@pytest.fixture
def rtsp_camera(tmp_path: Path) -> Iterator[RtspCamera]:
    clip, sizes = write_h264_clip(tmp_path / "clip", scenes=("astronaut",), fps=10)
    camera = RtspCamera(tmp_path / "rtsp", clip, sizes, fps=10, user=USER, password=PASSWORD).start()
    yield camera
    camera.stop()


def rtsp_outage(
    broker: Mosquitto, probe: Probe, camera: RtspCamera, outage: float, record: pytest.RecordProperty
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(
        broker, camera.url, fps=4.0, source_username=USER, source_password=PASSWORD, stream_timeout=2.0
    ) as agent:
        probe.on_topic(f"{TOPIC}/frame", timeout=30)
        camera.stop()  # killed: the camera lost power
        lost = time.monotonic()
        time.sleep(outage)  # the outage itself: the scenario, not a wait for a condition
        returning = time.monotonic()
        camera.start()  # same port; returns once it answers RTSP
        answered = time.monotonic()
        since = probe.mark()
        frame = probe.on_topic(f"{TOPIC}/frame", timeout=FRAMES_AGAIN_WITHIN, since=since)
        outage_figures("rtsp", outage, frame.at - returning, record)
        reach = agent.source._stream.reach  # type: ignore[attr-defined]
        assert reach is not None
        check_the_return(list(reach.history), lost, returning, answered, outage)


@pytest.mark.parametrize("outage", OUTAGES + SLOW_OUTAGES)
def test_rtsp_camera_is_back_at_its_first_answer_after_an_outage(
    broker: Mosquitto, probe: Probe, rtsp_camera: RtspCamera, outage: float, record_property: Any
) -> None:
    rtsp_outage(broker, probe, rtsp_camera, outage, record_property)


# --- HTTP snapshots ---------------------------------------------------------------------


class SnapshotCamera:
    """An HTTP snapshot camera on a fixed port, which can go away and come back."""

    def __init__(self) -> None:
        buf = io.BytesIO()
        Image.fromarray(data.astronaut()).resize((160, 120)).save(buf, format="JPEG")
        self.jpeg = buf.getvalue()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/snap.jpg"
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        jpeg = self.jpeg

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(jpeg)))
                self.end_headers()
                self.wfile.write(jpeg)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)  # allow_reuse_address
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def snapshot_camera() -> Iterator[SnapshotCamera]:
    camera = SnapshotCamera()
    camera.start()
    yield camera
    camera.stop()


@pytest.mark.parametrize("outage", OUTAGES + SLOW_OUTAGES)
def test_http_camera_is_back_at_its_first_answer_after_an_outage(
    broker: Mosquitto, probe: Probe, snapshot_camera: SnapshotCamera, outage: float, record_property: Any
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(broker, f"http:{snapshot_camera.url}", fps=10.0) as agent:
        probe.on_topic(f"{TOPIC}/frame", timeout=30)
        snapshot_camera.stop()
        lost = time.monotonic()
        time.sleep(outage)  # the outage itself
        returning = time.monotonic()
        snapshot_camera.start()
        answered = time.monotonic()
        frame = probe.on_topic(f"{TOPIC}/frame", timeout=FRAMES_AGAIN_WITHIN, since=probe.mark())
        outage_figures("http", outage, frame.at - returning, record_property)
        reach = agent.source.reach  # type: ignore[attr-defined]
        assert reach is not None
        history = list(reach.history)
        # At 10 fps a request per frame would be 10 a second: one failed request says the
        # camera is away, then only knocks.
        failed = between(history, lost, returning, "connect")
        assert len(failed) <= 1
        assert not any(a.ok for a in failed)
        knocks = between(history, lost, returning, "probe")
        assert knocks
        assert not any(k.ok for k in knocks)
        assert len(knocks) <= outage / PROBE_INTERVAL + 2
        answered_at_once(history, returning, answered)
