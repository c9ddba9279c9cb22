"""Motion regions: the camera's motion detector, and the live path camera → regions → detector.

Real Mosquitto, the real camera agent on an image folder, the real detector and model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from bobby_edge import protocol
from bobby_edge.camera.motion import MotionDetector
from tests.agents import test_detector_fixtures as fx
from tests.agents.camera_support import TOPIC, frames, running_agent, wait_count
from tests.agents.test_detector_fixtures import (
    SMALL_PERSON_AT,
    Camera,
    detection_payloads,
    near,
    next_stats,
    pasted,
    running_detector,
    scene,
    to_jpeg,
    wait_until,
)
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

model_path = fx.model_path
camera = fx.camera


def rocket_pixels() -> np.ndarray:  # type: ignore[type-arg]
    return pasted("rocket", ())[0]


def test_no_motion_no_regions_and_a_person_who_walks_in_is_one_region() -> None:
    motion = MotionDetector()
    empty = scene("rocket")
    assert motion.regions(empty).regions == []  # the first frame only learns the background
    for _ in range(5):
        assert motion.regions(empty).regions == []
    pixels, [box] = pasted("rocket", (SMALL_PERSON_AT,))
    person = to_jpeg(pixels)
    [region] = motion.regions(person).regions
    assert near(region, box)
    # Standing still: the region stays for a while (moving pixels are learnt slowly) ...
    for _ in range(5):
        assert len(motion.regions(person).regions) == 1
    # ... and the light going on is not motion: everything changed at once.
    assert motion.regions(to_jpeg((rocket_pixels() * 0.3).astype(np.uint8))).regions == []


def test_two_people_walking_in_apart_are_two_regions() -> None:
    motion = MotionDetector()
    for _ in range(3):
        motion.regions(scene("rocket"))
    pixels, boxes = pasted("rocket", ((40, 60), (430, 40)))
    regions = motion.regions(to_jpeg(pixels)).regions
    assert len(regions) == 2
    for box in boxes:
        assert any(near(r, box) for r in regions)


def test_sensor_noise_is_not_motion() -> None:
    motion = MotionDetector()
    rng = np.random.default_rng(5)
    base = rocket_pixels().astype(np.int16)
    for _ in range(8):
        noisy = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
        assert motion.regions(to_jpeg(noisy)).regions == []


def write_sequence(folder: Path) -> tuple[float, float, float, float]:
    """Six frames of the empty rocket scene, then four where the small person stands."""
    folder.mkdir()
    empty = scene("rocket")
    pixels, [box] = pasted("rocket", (SMALL_PERSON_AT,))
    person = to_jpeg(pixels)
    for i in range(10):
        (folder / f"{i:02d}.jpg").write_bytes(empty if i < 6 else person)
    return box


def test_live_path_camera_regions_to_a_detection_in_the_right_place(
    broker: Mosquitto, probe: Probe, model_path: Path, tmp_path: Path
) -> None:
    box = write_sequence(tmp_path / "seq")
    probe.subscribe("bobby/#")
    with (
        running_detector(broker, probe, model_path, workers=2) as detector,
        running_agent(broker, f"images:{tmp_path / 'seq'}", fps=5.0, width=640, height=480),
    ):
        message = probe.on_topic(f"{TOPIC}/detection", timeout=60)
        _, detection = protocol.parse_message(message.topic, message.payload)
        assert detection["person_count"] == 1
        [found] = detection["boxes"]
        assert near(found["box"], box), (found, box)
        stats = next_stats(probe, "det1")
        assert stats["workers"] == 2
        assert detector.frames_analysed > 0
    camera_stats = [
        protocol.parse_message(m.topic, m.payload)[1] for m in probe.messages if m.topic == f"{TOPIC}/stats"
    ]
    assert any(s.get("motion_ms") is not None and s["motion_ms"] > 0 for s in camera_stats)
    sent = frames(probe)
    regions = [json.loads(m.user_properties[protocol.REGIONS_PROPERTY]) for m in sent]
    assert [] in regions  # frames without motion still flow, with an empty list
    moving = [r for r in regions if r]
    assert moving
    assert any(near(r[0], box) for r in moving)


def test_frames_keep_their_rate_without_motion(broker: Mosquitto, probe: Probe, tmp_path: Path) -> None:
    folder = tmp_path / "still"
    folder.mkdir()
    (folder / "still.jpg").write_bytes(scene("rocket"))
    probe.subscribe(f"{TOPIC}/frame")
    with running_agent(broker, f"images:{folder}", fps=10.0, width=640, height=480):
        wait_count(probe, f"{TOPIC}/frame", 10, timeout=10)
    assert all(m.user_properties[protocol.REGIONS_PROPERTY] == "[]" for m in frames(probe))


def test_hostile_regions_are_defused_with_a_log_line_and_the_frame_still_analysed(
    broker: Mosquitto,
    probe: Probe,
    camera: Camera,
    model_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pixels, [box] = pasted("rocket", (SMALL_PERSON_AT,), size=(1920, 1080))  # room for many squares
    jpeg = to_jpeg(pixels)
    # 1,000 regions: one outside the frame (clamped), 500 of negative size (dropped), the
    # person three times (merged), 16 spread over the frame (squares beyond the cap), and
    # 480 specks (beyond the protocol's cap of 16).
    hostile = [[-5, -5, 0.001, 0.001]] + [[0.9, 0.9, 0.1, 0.1]] * 500 + [list(box)] * 3
    hostile += [[0.02 + c / 4, 0.02 + r / 4, 0.07 + c / 4, 0.07 + r / 4] for r in range(4) for c in range(4)]
    hostile += [[i / 600, 0.5, i / 600 + 0.001, 0.501] for i in range(480)]
    assert len(hostile) == 1000
    probe.subscribe("bobby/#")
    caplog.set_level(logging.WARNING, logger="bobby_edge.detector.agent")
    with running_detector(broker, probe, model_path) as detector:
        camera.send_with(
            "yard", jpeg, {protocol.REGIONS_PROPERTY: json.dumps(hostile, separators=(",", ":"))}
        )
        wait_until(lambda: detector.frames_analysed == 1, what="the frame analysed")
        camera.send_with("yard", jpeg, {protocol.REGIONS_PROPERTY: "not json at all"})
        wait_until(lambda: detector.frames_analysed == 2, what="the second frame analysed")
        stats = next_stats(probe, "det1")
    assert stats["frames_invalid"] == 0
    assert "clamped" in caplog.text
    assert "dropped" in caplog.text
    assert "beyond" in caplog.text  # capped to the largest, and the squares capped too
    assert "not analysed" in caplog.text
    assert "not json at all" not in caplog.text  # the payload never reaches the log
    found = detection_payloads(probe, "yard")
    assert found
    assert near(found[0]["boxes"][0]["box"], box)


def test_tiles_for_one_camera_only(broker: Mosquitto, probe: Probe, camera: Camera, model_path: Path) -> None:
    pixels, [box] = pasted("rocket", (SMALL_PERSON_AT,))
    jpeg = to_jpeg(pixels)
    probe.subscribe("bobby/#")
    with running_detector(broker, probe, model_path, tiles="esp32") as detector:
        camera.send("esp32", jpeg)  # a dumb camera: no regions, tiles
        camera.send("other", jpeg)  # not tiled: the whole frame misses the small person
        wait_until(lambda: detector.frames_analysed == 2, what="both frames analysed")
        next_stats(probe, "det1")  # the interval with the frames has been reported
    [detection] = detection_payloads(probe, "esp32")
    assert near(detection["boxes"][0]["box"], box)
    assert detection_payloads(probe, "other") == []
    stats = [
        protocol.parse_message(m.topic, m.payload)[1]
        for m in probe.messages
        if m.topic == "bobby/detector/det1/stats"
    ]
    busy = [s for s in stats if s["tiles_per_frame"] is not None]
    # 6 tiles on the esp32 frame, none on the other: 6 or 3 per frame, by the intervals.
    assert {s["tiles_per_frame"] for s in busy} <= {6.0, 3.0, 0.0}
    assert sum(s["tiles_per_frame"] for s in busy) >= 3.0
    assert all(s["regions_per_frame"] == 0 and s["frame_ms_p50"] > 0 for s in busy)
