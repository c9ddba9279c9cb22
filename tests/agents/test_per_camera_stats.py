"""A detector reports, per camera, what it analysed and dropped in each stats interval.

Home Assistant sums these over the detectors of the shared group to tell whether each
camera is watched (issue 22, docs/protocol.md stats `cameras`). Real Mosquitto, real model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bobby_edge import protocol
from bobby_edge.detector.agent import TRACKED_CAMERAS, PerCamera
from tests.agents import test_detector_fixtures as fx
from tests.agents.test_detector_fixtures import Camera, next_stats, running_detector, scene, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

model_path = fx.model_path
camera = fx.camera

EMPTY = scene("chelsea")


def _stats(probe: Probe, detector_id: str) -> list[dict[str, Any]]:
    topic = f"bobby/detector/{detector_id}/stats"
    return [dict(protocol.parse_message(m.topic, m.payload)[1]) for m in probe.messages if m.topic == topic]


def _summed(probe: Probe, detector_ids: tuple[str, ...], cam: str, key: str) -> int:
    return sum(s.get("cameras", {}).get(cam, {}).get(key, 0) for d in detector_ids for s in _stats(probe, d))


def test_two_detectors_report_each_cameras_frames_and_the_sums_add_up(
    broker: Mosquitto, probe: Probe, camera: Camera, model_path: Path
) -> None:
    """Each frame reaches one detector of the group: the per-camera counts over both add up."""
    probe.subscribe("bobby/detector/+/stats")
    frames = 20
    ids = ("cov-a", "cov-b")
    with (
        running_detector(broker, probe, model_path, ids[0]) as a,
        running_detector(broker, probe, model_path, ids[1]) as b,
    ):
        for i in range(frames):
            camera.send("door", EMPTY, frame_time=1_700_000_000.0 + i)
            camera.send("yard", EMPTY, frame_time=1_700_000_100.0 + i)
        agents = (a, b)
        wait_until(
            lambda: sum(x.frames_analysed + x.frames_dropped for x in agents) == 2 * frames,
            what="all frames analysed or dropped",
        )
        analysed = sum(x.frames_analysed for x in agents)
        dropped = sum(x.frames_dropped for x in agents)
        # The second stats from now was gathered after every count made so far; the
        # third is of an interval without frames.
        for detector_id in ids:
            next_stats(probe, detector_id)
            next_stats(probe, detector_id)
            assert next_stats(probe, detector_id)["cameras"] == {}

    cams = ("door", "yard")
    assert sum(_summed(probe, ids, cam, "analysed") for cam in cams) == analysed
    assert sum(_summed(probe, ids, cam, "dropped") for cam in cams) == dropped
    for cam in cams:
        assert _summed(probe, ids, cam, "analysed") > 0
    # The newest analysed frame's time, as the camera stamped it.
    door_times = [
        s["cameras"]["door"]["last_frame_time"]
        for d in ids
        for s in _stats(probe, d)
        if s.get("cameras", {}).get("door", {}).get("analysed")
    ]
    assert door_times
    assert all(1_700_000_000.0 <= t <= 1_700_000_000.0 + frames for t in door_times)


def test_a_detector_busy_elsewhere_reports_the_frames_it_drops(
    broker: Mosquitto, probe: Probe, camera: Camera, model_path: Path
) -> None:
    """Latest wins: a flood on one camera shows as that camera's dropped frames."""
    probe.subscribe("bobby/detector/+/stats")
    with running_detector(broker, probe, model_path, "swamped") as agent:
        for i in range(40):
            camera.send("flood", EMPTY, frame_time=1_700_000_000.0 + i)
        wait_until(lambda: agent.frames_analysed + agent.frames_dropped == 40, what="flood settled")
        next_stats(probe, "swamped")
        next_stats(probe, "swamped")
        dropped = agent.frames_dropped

    assert dropped > 0
    assert _summed(probe, ("swamped",), "flood", "dropped") == dropped
    assert _summed(probe, ("swamped",), "flood", "analysed") == 40 - dropped


def test_the_report_is_bounded_whatever_the_number_of_camera_ids() -> None:
    """1,000 camera ids (a flood of made-up ones): at most 128 named, the rest counted, memory bounded."""
    counts = PerCamera()
    for i in range(1000):
        camera_id = f"camera-{i:04d}-" + "x" * 48  # 64 characters, the longest id
        for _ in range(1 + (i % 3)):
            counts.analysed(camera_id, 1_795_000_000.123456)
        counts.dropped(camera_id)
    report = counts.take()

    assert len(report["cameras"]) == protocol.MAX_STATS_CAMERAS
    assert report["cameras_omitted"] == 1000 - protocol.MAX_STATS_CAMERAS
    # The busiest cameras are the ones named (3 analysed + 1 dropped each).
    assert {r["analysed"] for r in report["cameras"].values()} == {3}
    # A whole stats payload with them stays far below the 64 KiB limit and parses.
    stats = {
        "v": 1,
        "uptime": 1.0,
        "fps": 1.0,
        "frames_received": 2**40,
        "frames_analysed": 2**40,
        "problems": [],
        **report,
    }
    raw = protocol.encode(stats)
    assert len(raw) < protocol.MAX_JSON_BYTES // 2
    _, parsed = protocol.parse_message("bobby/detector/d1/stats", raw)
    assert parsed["cameras_omitted"] == 1000 - protocol.MAX_STATS_CAMERAS
    # The next interval starts empty.
    assert counts.take() == {"cameras": {}}


def test_memory_stays_bounded_under_a_flood_of_ids() -> None:
    counts = PerCamera()
    for i in range(20 * TRACKED_CAMERAS):
        counts.dropped(f"c{i}")
    assert len(counts._counts) == TRACKED_CAMERAS
    assert len(counts._omitted) == TRACKED_CAMERAS
    # Counted up to the same bound: the report says "at least this many left out".
    assert counts.take()["cameras_omitted"] == 2 * TRACKED_CAMERAS - protocol.MAX_STATS_CAMERAS
