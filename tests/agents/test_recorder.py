"""The recorder alone, on a synthetic timeline: real H.264 packets (libx264) stamped with
chosen capture times, so minutes of events run in a moment. The spool is real; the
`publish` of delivery is a list."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from bobby_edge import protocol
from bobby_edge.camera.recording.chunker import ChunkCutter
from bobby_edge.camera.recording.delivery import Delivery
from bobby_edge.camera.recording.packets import EncodedPacket, StreamFormat
from bobby_edge.camera.recording.recorder import Recorder, RecordSettings
from bobby_edge.camera.recording.ring import PreRollRing
from bobby_edge.camera.recording.spool import Spool
from tests.agents.recording_support import decode_alone
from tests.support.waiting import wait_until

FPS = 5
FORMAT = StreamFormat("h264", 64, 48, FPS)
T0 = time.time() + 10_000  # a timeline in the future: the recorder's stall check never fires


def h264_packets(seconds: float, start: float = T0, keyframe_every: float = 2.0) -> Iterator[EncodedPacket]:
    import av

    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 64, 48, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.gop_size = round(keyframe_every * FPS)
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency"}
    ctx.open()
    for index in range(round(seconds * FPS)):
        image = np.full((48, 64, 3), index % 250, np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        for packet in ctx.encode(frame):
            yield EncodedPacket(bytes(packet), start + packet.pts / FPS, bool(packet.is_keyframe))


class Sent:
    """Delivery's publish: keeps what it is given."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def __call__(self, payload: bytes) -> bool:
        self.payloads.append(payload)
        return True


@pytest.fixture
def sent() -> Sent:
    return Sent()


def make_recorder(tmp_path: Path, sent: Sent, **settings: float) -> Recorder:
    connected = threading.Event()
    connected.set()
    spool = Spool(tmp_path / "spool", 50 * 1024 * 1024)
    delivery = Delivery(spool, sent, connected, resend_after=3600)
    recorder = Recorder("cam1", RecordSettings(**{"chunk_seconds": 4.0, **settings}), spool, delivery)
    recorder.start()
    recorder.set_format(FORMAT)
    return recorder


def events(spool: Path) -> dict[str, list[dict[str, object]]]:
    """Each event's chunks as the spool holds them (nothing is acknowledged here), in order."""
    by_event: dict[str, list[dict[str, object]]] = {}
    for path in sorted(spool.rglob("*.chunk")):
        header, media = protocol.split_chunk(path.read_bytes())
        by_event.setdefault(path.parent.name, []).append(
            {**header, "frames": decode_alone(media) if media else []}
        )
    return by_event


def test_ring_keeps_whole_gops_covering_the_duration() -> None:
    ring = PreRollRing(duration=5.0, max_bytes=10**9)
    packets = list(h264_packets(20))
    for packet in packets:
        ring.add(packet)
    kept = ring.since(0)
    assert kept[0].keyframe
    newest = packets[-1].time
    assert newest - kept[0].time >= 5.0  # covers the duration...
    assert newest - kept[0].time < 5.0 + 2.0  # ...plus at most one GOP
    assert ring.since(newest - 3.0)[0].time <= newest - 3.0  # from the keyframe at or before
    ring.clear()
    assert ring.since(0) == []


def test_cutter_cuts_at_keyframes_within_the_limit() -> None:
    cutter = ChunkCutter(max_seconds=5.0, max_bytes=10**9)
    chunks = [done for p in h264_packets(30) if (done := cutter.add(p))]
    assert chunks
    for chunk in chunks:
        assert chunk[0].keyframe
        assert chunk[-1].time - chunk[0].time + 1 / FPS <= 5.0


def test_event_from_pre_roll_to_post_roll(tmp_path: Path, sent: Sent) -> None:
    recorder = make_recorder(tmp_path, sent, pre_roll=6.0, post_roll=5.0)
    trigger = T0 + 20.0
    for packet in h264_packets(40):
        if packet.time == trigger:
            recorder.trigger(trigger, "detection")
        recorder.write(packet)
    recorder.stop()
    (chunks,) = events(tmp_path / "spool").values()
    assert [c["seq"] for c in chunks] == list(range(len(chunks)))
    assert float(chunks[0]["start"]) <= trigger - 6.0 + 1e-3  # headers round times to ms
    assert float(chunks[0]["start"]) > trigger - 6.0 - 2.0  # the keyframe just before, no earlier
    end = float(chunks[-1]["start"]) + float(chunks[-1]["duration"])
    assert end == pytest.approx(trigger + 5.0, abs=1 / FPS)
    assert [c["last"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    for chunk in chunks:
        assert float(chunk["duration"]) <= 4.0 + 1e-3
        frames = chunk["frames"]
        assert isinstance(frames, list)
        assert frames
        assert frames[0] == pytest.approx(float(chunk["start"]) - float(chunks[0]["start"]), abs=1e-3)


def test_a_long_presence_is_cut_into_events_of_max_length_without_a_gap(tmp_path: Path, sent: Sent) -> None:
    recorder = make_recorder(tmp_path, sent, pre_roll=0.0, post_roll=5.0, max_event=10.0)
    for packet in h264_packets(30):
        recorder.trigger(packet.time, "detection")  # someone there the whole time
        recorder.write(packet)
    recorder.stop()
    found = sorted(events(tmp_path / "spool").values(), key=lambda chunks: float(chunks[0]["start"]))
    assert len(found) == 3
    for before, after in itertools.pairwise(found):
        end = float(before[-1]["start"]) + float(before[-1]["duration"])
        assert end == pytest.approx(float(after[0]["start"]), abs=1e-3)  # no gap, no overlap
        assert float(after[0]["start"]) - float(before[0]["start"]) == pytest.approx(10.0, abs=2.0)
    assert all(chunks[-1]["last"] for chunks in found)


def test_a_new_stream_format_mid_event_starts_a_new_event(tmp_path: Path, sent: Sent) -> None:
    recorder = make_recorder(tmp_path, sent, pre_roll=0.0, post_roll=30.0)
    recorder.trigger(T0, "command", lasts=30.0)
    for packet in h264_packets(6):
        recorder.write(packet)
    recorder.set_format(StreamFormat("h264", 64, 48, 10))  # e.g. a camera that reconnected
    for packet in h264_packets(6, start=T0 + 6):
        recorder.write(packet)
    recorder.stop()
    found = events(tmp_path / "spool")
    assert len(found) == 2
    assert all(chunks[-1]["last"] and chunks[0]["reason"] == "command" for chunks in found.values())


def test_clear_ends_the_event_and_forgets_the_pre_roll(tmp_path: Path, sent: Sent) -> None:
    recorder = make_recorder(tmp_path, sent, pre_roll=5.0)
    packets = list(h264_packets(10))
    for packet in packets[:25]:
        recorder.write(packet)
    recorder.trigger(packets[24].time, "detection")
    recorder.clear()  # the camera was disabled
    assert not recorder.recording
    assert recorder.ring.since(0) == []
    wait_until(lambda: sent.payloads, 10, "delivery publishing the event")
    recorder.stop()
    (chunks,) = events(tmp_path / "spool").values()
    assert chunks[-1]["last"]
