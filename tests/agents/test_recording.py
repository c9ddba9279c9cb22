"""Recording on the camera agent: events with pre-roll, chunks through a real Mosquitto to a
paho client playing the core, real PyAV encoding and decoding, the spool and its acks."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agents.camera_support import running_agent, send_command, write_samples
from tests.agents.recording_support import TOPIC, Core, decode_alone, publish_detection, write_moving_video
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.waiting import wait_until

PRE_ROLL = 3.0
POST_ROLL = 2.0
FPS = 5.0


def record_options(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "record": True,
        "fps": FPS,
        "pre_roll": PRE_ROLL,
        "post_roll": POST_ROLL,
        "chunk_seconds": 2.0,
        "spool_dir": str(tmp_path / "spool"),
        "chunk_resend": 2.0,
        **extra,
    }


@pytest.fixture
def core(broker: Mosquitto) -> Iterator[Core]:
    client = Core(broker.port)
    yield client
    client.close()


@pytest.fixture(params=["video", "images"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "video":
        write_moving_video(tmp_path / "scene.mp4")
        return f"video:{tmp_path / 'scene.mp4'}"
    write_samples(tmp_path / "pictures")
    return f"images:{tmp_path / 'pictures'}"


def ring_covers(agent: Any, seconds: float) -> bool:
    packets = agent.recorder.ring.since(0.0)
    return bool(packets) and packets[-1].time - packets[0].time >= seconds


def check_event(chunks: list[Any], trigger: float, pre_roll: float, post_roll: float) -> None:
    """Contiguous, each decodes alone, the first covers the pre-roll, the end the post-roll."""
    assert [c.header["seq"] for c in chunks] == list(range(len(chunks)))
    assert [c.header["last"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    origin = chunks[0].header["start"]
    frame = 1.0 / FPS
    for chunk in chunks:
        if not chunk.media:
            continue
        assert chunk.header["duration"] <= 2.0 + frame  # chunk_seconds, cut at keyframes
        times = decode_alone(chunk.media)
        assert times, f"chunk {chunk.key} holds no frame"
        # Timestamps count from the event's first frame and continue across chunks.
        assert times[0] == pytest.approx(chunk.header["start"] - origin, abs=frame)
    first_times = decode_alone(chunks[0].media)
    assert origin + first_times[0] <= trigger - pre_roll + frame  # the pre-roll is in it
    end = chunks[-1].header["start"] + chunks[-1].header["duration"]
    assert end >= trigger + post_roll - 2 * frame
    assert end <= trigger + post_roll + 2.0  # ended after the post-roll, not much later


def test_a_detection_records_an_event_with_pre_roll(
    broker: Mosquitto, probe: Probe, core: Core, source: str, tmp_path: Path
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(broker, source, **record_options(tmp_path)) as agent:
        info = json.loads(probe.on_topic(f"{TOPIC}/info").payload)
        assert "record" in info["capabilities"]
        wait_until(lambda: ring_covers(agent, PRE_ROLL + 1), 30, "a pre-roll in the ring")
        trigger = time.time()
        publish_detection(probe, trigger)
        core.wait(core.finished, 40, "the event's last chunk")
        (event,) = core.events().values()
        check_event(event, trigger, PRE_ROLL, POST_ROLL)
        assert event[0].header["reason"] == "detection"
        wait_until(
            lambda: agent.recorder.spool.nchunks == 0, 10, "every acknowledged chunk gone from the spool"
        )
        since = probe.mark()
        stats = json.loads(probe.on_topic(f"{TOPIC}/stats", since=since).payload)
        assert stats["recording"] is False
        assert stats["events_recorded"] == 1
        assert stats["chunks_acked"] == stats["chunks_spooled"] == len(event)
        assert stats["chunks_unacked"] == 0
        assert stats["spool_bytes"] == 0
    assert not list((tmp_path / "spool").rglob("*.chunk"))


def test_detections_extend_the_event_and_a_command_records(
    broker: Mosquitto, probe: Probe, core: Core, tmp_path: Path
) -> None:
    probe.subscribe(f"{TOPIC}/ack")
    write_samples(tmp_path / "pictures")
    with running_agent(broker, f"images:{tmp_path / 'pictures'}", **record_options(tmp_path)) as agent:
        wait_until(lambda: ring_covers(agent, 2.0), 30, "video in the ring")
        first = time.time()
        publish_detection(probe, first)
        # A second detection within the post-roll keeps the same event going.
        wait_until(lambda: time.time() > first + 1.0, 5, "a second later")
        second = time.time()
        publish_detection(probe, second)
        core.wait(core.finished, 40, "the event's last chunk")
        (event,) = core.events().values()
        end = event[-1].header["start"] + event[-1].header["duration"]
        assert end >= second + POST_ROLL - 2 / FPS

        ack = send_command(probe, {"id": "r1", "action": "record", "duration": 2})
        assert ack["ok"], ack
        core.wait(lambda: len(core.finished()) == 2, 40, "the commanded event's last chunk")
        commanded = [c for e in core.events().values() for c in e if c.header["reason"] == "command"]
        assert commanded
        assert commanded[-1].header["last"]

        refused = send_command(probe, {"id": "r2", "action": "record"})
        assert not refused["ok"]
        assert "duration" in refused["error"]


def test_a_core_that_does_not_acknowledge_gets_chunks_again(
    broker: Mosquitto, probe: Probe, tmp_path: Path
) -> None:
    silent = Core(broker.port, acking=False)
    try:
        write_samples(tmp_path / "pictures")
        with running_agent(
            broker, f"images:{tmp_path / 'pictures'}", **record_options(tmp_path, chunk_resend=1.0)
        ) as agent:
            wait_until(lambda: ring_covers(agent, 2.0), 30, "video in the ring")
            publish_detection(probe, time.time())
            silent.wait(lambda: any(c.header["seq"] == 0 for c in silent.received), 30, "chunk 0")
            silent.wait(lambda: sum(c.key[1] == 0 for c in silent.received) >= 2, 20, "chunk 0 sent again")
            assert agent.recorder.spool.nchunks >= 1  # kept until acknowledged
            # The core comes back and acknowledges: the spool empties.
            silent.acking = True
            silent.wait(silent.finished, 40, "the last chunk")
            wait_until(lambda: agent.recorder.spool.nchunks == 0, 20, "the spool emptied by acks")
    finally:
        silent.close()


def test_broker_restart_mid_event_loses_nothing(
    broker: Mosquitto, probe: Probe, core: Core, tmp_path: Path
) -> None:
    write_moving_video(tmp_path / "scene.mp4")
    options = record_options(tmp_path, post_roll=6.0)
    with running_agent(broker, f"video:{tmp_path / 'scene.mp4'}", **options) as agent:
        wait_until(lambda: ring_covers(agent, PRE_ROLL + 1), 30, "a pre-roll in the ring")
        trigger = time.time()
        publish_detection(probe, trigger)
        core.wait(lambda: len(core.unique()) >= 1, 30, "the first chunk")
        broker.restart(downtime=3.0)
        core.wait(core.finished, 60, "the event's last chunk after the broker came back")
        (event,) = core.events().values()
        check_event(event, trigger, PRE_ROLL, 6.0)
        wait_until(lambda: agent.recorder.spool.nchunks == 0, 20, "the spool emptied by acks")


def test_invalid_detections_and_acks_are_ignored(
    broker: Mosquitto, probe: Probe, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bobby_edge.camera.agent")
    probe.subscribe(f"{TOPIC}/#")
    write_samples(tmp_path / "pictures")
    with running_agent(broker, f"images:{tmp_path / 'pictures'}", **record_options(tmp_path)) as agent:
        probe.on_topic(f"{TOPIC}/info")
        probe.publish(f"{TOPIC}/detection", b"{not json")
        probe.publish(f"{TOPIC}/detection", json.dumps({"v": 1, "camera": "other"}).encode())
        probe.publish(f"{TOPIC}/chunk_ack", b"x" * 100_000)
        probe.publish(f"{TOPIC}/chunk_ack", json.dumps({"v": 1, "event": "../etc", "seq": 1}).encode())
        ack = send_command(probe, {"id": "r1", "fps": 4})  # still obeying, after the bad ones
        assert ack["ok"]
        assert not agent.recorder.recording
    # Throttled per kind of message (one line each here), naming topic, size and reason.
    lines = [r.getMessage() for r in caplog.records if "ignored an invalid" in r.getMessage()]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"ignored an invalid detection message on {TOPIC}/detection (9 bytes): ")
    assert lines[1].startswith(f"ignored an invalid chunk_ack message on {TOPIC}/chunk_ack (100000 bytes): ")
    assert not any("xxxx" in line or "{not json" in line for line in lines)


def test_without_recording_no_capability_and_record_is_refused(
    broker: Mosquitto, probe: Probe, tmp_path: Path
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    write_samples(tmp_path / "pictures")
    with running_agent(broker, f"images:{tmp_path / 'pictures'}") as agent:  # record: false
        info = json.loads(probe.on_topic(f"{TOPIC}/info").payload)
        assert "record" not in info["capabilities"]
        ack = send_command(probe, {"id": "r1", "action": "record", "duration": 5})
        assert not ack["ok"]
        assert "--no-record" in ack["error"]
        assert agent.recorder is None
        stats = json.loads(probe.on_topic(f"{TOPIC}/stats", since=probe.mark()).payload)
        assert "recording" not in stats


def test_disabling_ends_the_event_and_empties_the_pre_roll(
    broker: Mosquitto, probe: Probe, core: Core, tmp_path: Path
) -> None:
    probe.subscribe(f"{TOPIC}/ack")
    write_samples(tmp_path / "pictures")
    options = record_options(tmp_path, post_roll=60.0)
    with running_agent(broker, f"images:{tmp_path / 'pictures'}", **options) as agent:
        wait_until(lambda: ring_covers(agent, 2.0), 30, "video in the ring")
        assert send_command(probe, {"id": "r1", "action": "record", "duration": 60})["ok"]
        wait_until(lambda: agent.recorder.recording, 10, "recording")
        assert send_command(probe, {"id": "r2", "enabled": False})["ok"]
        core.wait(core.finished, 30, "the event's last chunk")
        wait_until(lambda: not agent.recorder.ring.since(0), 10, "the pre-roll forgotten")
        refused = send_command(probe, {"id": "r3", "action": "record", "duration": 5})
        assert not refused["ok"]
        assert "disabled" in refused["error"]
