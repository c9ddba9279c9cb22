"""The detector agent with a real Mosquitto, the real model and real pictures."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bobby_edge import protocol
from tests.agents import test_detector_fixtures as fx
from tests.agents.conftest import spawn_agent
from tests.agents.test_detector_fixtures import (
    Camera,
    detection_payloads,
    next_stats,
    noise_jpeg,
    running_detector,
    scene,
    wait_until,
    with_claimed_size,
)
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

model_path = fx.model_path  # session fixtures shared by the detector tests
camera = fx.camera

PERSON = scene("astronaut")
EMPTY = scene("chelsea")


def test_esp32_style_frames_as_a_real_process(
    broker: Mosquitto,
    probe: Probe,
    camera: Camera,
    model_path: Path,
    agent_process: list[subprocess.Popen[bytes]],
) -> None:
    probe.subscribe("bobby/#")
    proc = spawn_agent(
        agent_process,
        "detector",
        "--broker",
        f"127.0.0.1:{broker.port}",
        "--id",
        "pi4",
        "--model",
        str(model_path),
        "--threads",
        "1",
        "--stats-interval",
        "0.5",
        log=broker.workdir.parent / "detector.log",
    )
    info = probe.on_topic("bobby/detector/pi4/info", timeout=30)
    _, info_data = protocol.parse_message(info.topic, info.payload)
    assert info_data["model"].startswith("deeplabv3.tflite (segmentation")
    assert info_data["resolution"] == [257, 257]
    assert "threshold" in info_data["capabilities"]
    probe.on_topic("bobby/detector/pi4/state")

    # A person frame with nothing but JPEG bytes, as an ESP32-CAM sends it.
    mark = probe.mark()
    sent_at = time.time()
    camera.send("porch", PERSON)
    message = probe.on_topic("bobby/camera/porch/detection", timeout=30, since=mark)
    _, detection = protocol.parse_message(message.topic, message.payload)
    assert not message.retain
    assert detection["camera"] == "porch"
    assert detection["detector"] == "pi4"
    assert detection["score"] >= 0.5
    assert detection["boxes"][0]["score"] == detection["score"]
    xmin, ymin, xmax, ymax = detection["boxes"][0]["box"]
    assert xmin < xmax
    assert ymin < ymax
    # No frame_time property: the arrival time stands in (a clock check, not a speed one).
    assert sent_at - 1 <= detection["frame_time"] <= detection["detection_time"] <= time.time() + 1
    assert detection["inference_ms"] > 0
    assert detection["snapshot"] is True
    snap = probe.on_topic("bobby/camera/porch/snapshot", since=mark)
    assert snap.payload.startswith(b"\xff\xd8\xff")
    # The snapshot went out before the detection that announces it, and is retained.
    assert probe.messages.index(snap) < probe.messages.index(message)
    late = Probe(broker.port)
    try:
        late.subscribe("bobby/camera/porch/snapshot")
        assert late.on_topic("bobby/camera/porch/snapshot").retain
    finally:
        late.close()

    # An empty scene yields no detection. A later person frame on another camera is the
    # barrier: the worker takes cameras oldest-first, so the empty one was analysed before.
    mark = probe.mark()
    camera.send("porch", EMPTY)
    camera.send("garden", PERSON)
    probe.on_topic("bobby/camera/garden/detection", timeout=30, since=mark)
    assert probe.count("bobby/camera/porch/detection", since=mark) == 0
    data = next_stats(probe, "pi4")
    assert data["frames_received"] == 3
    assert data["frames_analysed"] == 3
    assert data["frames_dropped"] == 0
    assert data["frames_invalid"] == 0

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    probe.wait_for(lambda m: m.topic == "bobby/detector/pi4/status" and m.payload == b"offline")


def test_two_detectors_share_one_cameras_frames(
    broker: Mosquitto,
    probe: Probe,
    camera: Camera,
    model_path: Path,
) -> None:
    probe.subscribe("bobby/camera/+/detection")
    frames = 30
    with (
        running_detector(broker, probe, model_path, "det-a") as a,
        running_detector(broker, probe, model_path, "det-b") as b,
    ):
        for i in range(frames):
            camera.send("door", PERSON, frame_time=1_700_000_000.0 + i)
        agents = (a, b)
        wait_until(lambda: sum(x.frames_received for x in agents) == frames, what="all frames received")
        wait_until(
            lambda: sum(x.frames_analysed + x.frames_dropped for x in agents) == frames,
            what="all frames analysed or dropped",
        )
        analysed = sum(x.frames_analysed for x in agents)
        wait_until(lambda: len(detection_payloads(probe, "door")) == analysed, what="all detections")
        detections = detection_payloads(probe, "door")

    # The broker gave each frame to one detector; both took part; none analysed twice.
    assert a.frames_analysed > 0
    assert b.frames_analysed > 0
    assert a.frames_invalid == b.frames_invalid == 0
    frame_times = [d["frame_time"] for d in detections]
    assert len(set(frame_times)) == len(frame_times) == analysed
    assert set(frame_times) <= {1_700_000_000.0 + i for i in range(frames)}
    by_detector = {d["detector"] for d in detections}
    assert by_detector == {"det-a", "det-b"}
    assert sum(d["detector"] == "det-a" for d in detections) == a.frames_analysed


def test_a_flood_never_builds_a_backlog(
    broker: Mosquitto,
    probe: Probe,
    camera: Camera,
    model_path: Path,
) -> None:
    probe.subscribe("bobby/#")
    cameras = ("cam1", "cam2", "cam3")
    per_camera = 60
    with running_detector(broker, probe, model_path, "busy") as agent:
        most_waiting = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal most_waiting
            while not stop.is_set():
                most_waiting = max(most_waiting, agent.pending())
                time.sleep(0.001)

        sampler = threading.Thread(target=sample)
        sampler.start()
        for i in range(per_camera):
            for cam in cameras:
                camera.send(cam, EMPTY if i % 2 else PERSON, frame_time=1_700_000_000.0 + i)
        mark = probe.mark()
        camera.send("barrier", PERSON)
        probe.on_topic("bobby/camera/barrier/detection", timeout=30, since=mark)
        stop.set()
        sampler.join()
        total = per_camera * len(cameras) + 1
        wait_until(lambda: agent.frames_analysed + agent.frames_dropped == total, what="flood settled")
        stats = next_stats(probe, "busy")

    assert agent.frames_received == total
    assert most_waiting <= len(cameras) + 1  # one frame per camera at most, whatever the load
    assert agent.frames_dropped > 0  # latest wins: the flood was shed, not queued
    assert agent.frames_analysed < total
    assert agent.pending() == 0
    assert stats["frames_dropped"] == agent.frames_dropped
    assert stats["frames_received"] == total


def test_bad_frames_are_counted_and_survived(
    broker: Mosquitto,
    probe: Probe,
    camera: Camera,
    model_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bobby_edge")
    probe.subscribe("bobby/#")
    oversized = noise_jpeg(800, 600)
    assert len(oversized) > 100_000
    with running_detector(broker, probe, model_path, "tough", max_payload=100_000) as agent:
        camera.send("c1", PERSON[: len(PERSON) // 2])  # truncated JPEG
        camera.send("c2", b"GET / HTTP/1.1\r\n\r\n")  # not an image
        camera.send("c3", oversized)
        camera.send("c4", with_claimed_size(PERSON, 60000, 60000))  # a hostile header
        camera.send("c5", b"")
        mark = probe.mark()
        camera.send("c6", PERSON)
        detection = probe.on_topic("bobby/camera/c6/detection", timeout=30, since=mark)
        assert protocol.parse_message(detection.topic, detection.payload)[1]["score"] >= 0.5
        wait_until(lambda: agent.frames_invalid == 5, what="five invalid frames counted")
        stats = next_stats(probe, "tough")
        assert stats["frames_invalid"] == 5
        assert stats["frames_analysed"] == 1
        assert stats["frames_received"] == 6
        # Still answering commands after all that.
        mark = probe.mark()
        probe.publish("bobby/detector/tough/set", protocol.encode({"id": "after", "min_area": 0.1}))
        ack = probe.on_topic("bobby/detector/tough/ack", since=mark)
        assert protocol.parse_message(ack.topic, ack.payload)[1]["ok"] is True
    for cam in ("c1", "c2", "c3", "c4", "c5"):
        assert probe.count(f"bobby/camera/{cam}/detection") == 0
    # One line per camera, naming topic, size and reason; never the payload's bytes.
    skipped = [r.getMessage() for r in caplog.records if "skipped a" in r.getMessage()]
    assert len(skipped) == 5
    assert any("skipped a 18-byte frame on bobby/camera/c2/frame: " in line for line in skipped)
    assert not any("GET" in line or "\\x" in line for line in skipped), skipped


def _command(probe: Probe, payload: bytes | str) -> dict[str, object]:
    mark = probe.mark()
    probe.publish("bobby/detector/ctl/set", payload)
    ack = probe.on_topic("bobby/detector/ctl/ack", since=mark)
    return protocol.parse_message(ack.topic, ack.payload)[1]  # type: ignore[no-any-return]


def test_threshold_and_enabled_commands(
    broker: Mosquitto,
    probe: Probe,
    camera: Camera,
    model_path: Path,
) -> None:
    probe.subscribe("bobby/#")
    # One snapshot per camera per hour: only the first detection carries one.
    with running_detector(broker, probe, model_path, "ctl", snapshot_interval=3600) as agent:
        ack = _command(probe, protocol.encode({"id": "r1", "threshold": 0.99}))
        assert ack == {
            "v": 1,
            "id": "r1",
            "ok": True,
            "state": {"v": 1, "enabled": True, "threshold": 0.99, "min_area": 0.0},
        }
        state = [m for m in probe.messages if m.topic == "bobby/detector/ctl/state"][-1]
        assert protocol.parse_message(state.topic, state.payload)[1]["threshold"] == 0.99

        # At 0.99 the astronaut (score ~0.94) is analysed but not reported.
        mark = probe.mark()
        camera.send("hall", PERSON)
        wait_until(lambda: agent.frames_analysed == 1, what="frame analysed")
        # The ack is sent after anything published for that frame: a barrier.
        assert _command(probe, protocol.encode({"id": "r2", "threshold": 0.5}))["ok"] is True
        assert probe.count("bobby/camera/hall/detection", since=mark) == 0
        camera.send("hall", PERSON)
        first = probe.on_topic("bobby/camera/hall/detection", timeout=30, since=mark)
        assert protocol.parse_message(first.topic, first.payload)[1]["snapshot"] is True

        # min_area above the person's box area filters it out.
        assert _command(probe, protocol.encode({"id": "r3", "min_area": 0.95}))["ok"] is True
        mark = probe.mark()
        camera.send("hall", PERSON)
        wait_until(lambda: agent.frames_analysed == 3, what="frame analysed")
        assert _command(probe, protocol.encode({"id": "r4", "min_area": 0.0}))["ok"] is True
        assert probe.count("bobby/camera/hall/detection", since=mark) == 0

        # Disabled: frames are received and ignored.
        ack = _command(probe, protocol.encode({"id": "off", "enabled": False}))
        assert ack["ok"] is True
        assert ack["state"]["enabled"] is False  # type: ignore[index]
        mark = probe.mark()
        camera.send("hall", PERSON)
        wait_until(lambda: agent.frames_received == 4, what="frame received")
        assert _command(probe, protocol.encode({"id": "on", "enabled": True}))["ok"] is True
        assert agent.frames_analysed == 3
        assert agent.frames_dropped == agent.frames_invalid == 0
        assert probe.count("bobby/camera/hall/detection", since=mark) == 0
        camera.send("hall", PERSON)
        later = probe.on_topic("bobby/camera/hall/detection", timeout=30, since=mark)
        assert protocol.parse_message(later.topic, later.payload)[1]["snapshot"] is False
    assert probe.count("bobby/camera/hall/snapshot") == 1


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (protocol.encode({"id": "b1", "threshold": 2}), "'threshold' must be between"),
        (protocol.encode({"id": "b2", "threshold": 0}), "threshold 0 would report every frame"),
        (protocol.encode({"id": "b3", "fps": 5}), "unknown setting(s) 'fps' for a detector"),
        (protocol.encode({"id": "b4", "enabled": "yes"}), "'enabled' must be a bool"),
        (protocol.encode({"id": "b5", "action": "preview"}), "unknown action"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_bad_commands_are_answered_not_applied(
    broker: Mosquitto,
    probe: Probe,
    model_path: Path,
    payload: bytes,
    error: str,
) -> None:
    probe.subscribe("bobby/detector/ctl/#")
    with running_detector(broker, probe, model_path, "ctl") as agent:
        ack = _command(probe, payload)
        assert ack["ok"] is False
        assert error in str(ack["error"])
        assert ack["id"] == (None if payload.startswith(b"{not") else protocol.decode_json(payload)["id"])
        assert agent.full_state() == {"enabled": True, "threshold": 0.5, "min_area": 0.0}


def test_a_flood_of_bad_commands_is_answered_but_logged_once(
    broker: Mosquitto, probe: Probe, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bobby_edge")
    probe.subscribe("bobby/detector/ctl/#")
    with running_detector(broker, probe, model_path, "ctl"):
        for i in range(20):
            ack = _command(probe, protocol.encode({"id": f"bad{i}", "threshold": "secret-value"}))
            assert ack["ok"] is False
    refused = [r.getMessage() for r in caplog.records if "refused command" in r.getMessage()]
    assert len(refused) == 1, refused
    assert "on bobby/detector/ctl/set (" in refused[0]
    assert "bytes, invalid)" in refused[0]
