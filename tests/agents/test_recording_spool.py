"""The spool on its own (real files) and the camera process killed mid-event (SIGKILL)."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bobby_edge.camera.recording.spool import Spool
from tests.agents.conftest import spawn_agent
from tests.agents.recording_support import (
    Core,
    decode_alone,
    publish_detection,
    spool_files,
    write_moving_video,
)
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.waiting import wait_until


def test_full_spool_drops_the_oldest_event_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1000)
    spool.load()
    for event in ("e1", "e2"):
        spool.begin(event, 1.0 if event == "e1" else 2.0, "detection")
        for seq in range(2):
            assert spool.put(event, seq, b"x" * 200, last=seq == 1)
    spool.begin("e3", 3.0, "detection")
    with caplog.at_level(logging.WARNING):
        assert spool.put("e3", 0, b"y" * 300, last=False)
    assert [e for e, _ in spool.pending()] == ["e2", "e2", "e3"]  # e1, the oldest, went
    assert spool.events_dropped == 1
    assert spool.chunks_dropped == 2
    assert "dropped event e1" in caplog.text
    assert not (tmp_path / "spool" / "e1").exists()
    assert spool.nbytes == 700
    # One event alone larger than the spool loses its own oldest chunks, never the new one.
    for seq in range(1, 4):
        assert spool.put("e3", seq, b"y" * 300, last=False)
    assert spool.pending()[-1] == ("e3", 3)
    assert spool.nbytes <= 1000


def test_spool_survives_a_restart_and_forgets_acknowledged_chunks(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=10_000)
    spool.load()
    spool.begin("e1", 1.0, "detection")
    for seq in range(3):
        spool.put("e1", seq, f"chunk {seq}".encode(), last=False)
    assert spool.ack("e1", 0)
    assert not spool.ack("e1", 0)
    (tmp_path / "spool" / "e1" / "000009.chunk.tmp").write_bytes(b"half")  # a crash mid-write

    again = Spool(tmp_path / "spool", max_bytes=10_000)
    (interrupted,) = again.load()  # open: the previous run died during e1
    assert interrupted.event == "e1"
    assert interrupted.next_seq == 3
    assert again.pending() == [("e1", 1), ("e1", 2)]
    assert again.read("e1", 2) == b"chunk 2"
    assert not (tmp_path / "spool" / "e1" / "000009.chunk.tmp").exists()
    again.put("e1", 3, b"end", last=True)
    for seq in (1, 2, 3):
        again.ack("e1", seq)
    assert not (tmp_path / "spool" / "e1").exists()  # all acknowledged, event closed: gone


def test_sigkill_mid_event_the_spool_delivers_the_rest_after_restart(
    broker: Mosquitto, probe: Probe, agent_process: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    write_moving_video(tmp_path / "scene.mp4")
    spool = tmp_path / "spool"
    args = (
        "camera",
        "--broker", broker.url, "--id", "cam1", "--source", f"video:{tmp_path / 'scene.mp4'}",
        "--fps", "5", "--width", "320", "--height", "240", "--stats-interval", "1",
        "--pre-roll", "3", "--post-roll", "30", "--chunk-seconds", "2",
        "--spool-dir", str(spool), "--chunk-resend", "2",
    )  # fmt: skip
    # The core is up but loses everything (as a restarting Home Assistant): no acks.
    core = Core(broker.port, acking=False)
    try:
        probe.subscribe("bobby/camera/cam1/stats")
        camera = spawn_agent(agent_process, *args, log=tmp_path / "camera.log")
        probe.on_topic("bobby/camera/cam1/stats", timeout=30)
        since = probe.mark()
        probe.on_topic("bobby/camera/cam1/stats", timeout=10, since=since)  # 1 s more of video
        publish_detection(probe, time.time())
        core.wait(lambda: len(core.unique()) >= 3, 40, "three chunks")
        camera.send_signal(signal.SIGKILL)
        camera.wait(10)
        on_disk = spool_files(spool / "cam1")
        sent_before = set(core.unique())
        assert sent_before <= on_disk  # nothing was acknowledged, so everything sent is still there
        (event,) = {e for e, _ in on_disk}

        core.acking = True  # the core is back
        spawn_agent(agent_process, *args, log=tmp_path / "camera2.log")
        core.wait(lambda: event in core.finished(), 60, "the interrupted event closed")
        chunks = core.events()[event]
        assert [c.header["seq"] for c in chunks] == list(range(len(chunks)))  # no gap
        assert {(event, c.header["seq"]) for c in chunks} >= on_disk
        assert chunks[-1].header["last"]
        assert chunks[-1].media == b""
        for chunk in chunks[:-1]:
            assert decode_alone(chunk.media)
        wait_until(lambda: not spool_files(spool / "cam1"), 20, "the spool emptied by acks")
        stats = json.loads(probe.on_topic("bobby/camera/cam1/stats", since=probe.mark()).payload)
        assert stats["chunks_unacked"] == 0
    finally:
        core.close()
