"""End to end: real agents, a real broker, a real Home Assistant, checked through HA's API.

The tests share one running system (see conftest.py) and each leaves it as it found it:
camera on, detector running.
"""

from __future__ import annotations

import json
import signal
import time

from .conftest import CAMERA, DETECTOR, E2E, OPTIONS


def _topic(kind: str, agent_id: str, leaf: str) -> str:
    return f"bobby/{kind}/{agent_id}/{leaf}"


def test_person_sensor_follows_the_frames(e2e: E2E) -> None:
    """On for the person scenes, off `clear_after` seconds after the last detection."""
    detection = _topic("camera", CAMERA, "detection")
    # The sample source loops: person scenes (6 s), then empty ones (10 s). Start from a
    # known point: the sensor off, i.e. inside the empty stretch.
    e2e.wait_state("person", "off", timeout=60)
    start = e2e.probe.mark()
    e2e.wait_state("person", "on", timeout=60)
    e2e.probe.wait_for(lambda m: m.topic == detection, timeout=5, since=start)

    e2e.wait_state("person", "off", timeout=30)
    off_seen = time.monotonic()  # within one poll (0.2 s) of the change
    last = [m for m in e2e.probe.messages[start:] if m.topic == detection][-1]
    gap = off_seen - last.at
    assert gap >= OPTIONS["clear_after"] - 0.3, f"person went off {gap:.1f}s after the last detection"
    payload = json.loads(last.payload)
    assert payload["camera"] == CAMERA
    assert payload["detector"] == DETECTOR
    assert payload["score"] >= 0.5


def test_camera_switch_stops_frames_and_shows_the_ack(e2e: E2E) -> None:
    frame, ack, stats = (_topic("camera", CAMERA, leaf) for leaf in ("frame", "ack", "stats"))
    assert e2e.state("camera_switch")["state"] == "on"
    before = e2e.probe.mark()

    e2e.api.call_service("switch", "turn_off", {"entity_id": e2e.entities["camera_switch"]})
    # The service call returns once the agent acknowledged; the switch shows that state.
    reply = e2e.probe.wait_for(lambda m: m.topic == ack, timeout=10, since=before)
    body = json.loads(reply.payload)
    assert body["ok"] is True
    assert body["state"]["enabled"] is False
    e2e.wait_state("camera_switch", "off", timeout=10)

    # Frames and stats travel from the one agent over one connection in order: after the
    # first heartbeat that follows the ack, no frame may arrive for two more heartbeats.
    first = e2e.probe.wait_for(lambda m: m.topic == stats, timeout=10, since=e2e.probe.messages.index(reply))
    quiet_from = e2e.probe.messages.index(first)
    for _ in range(2):
        e2e.probe.wait_for(lambda m: m.topic == stats, timeout=10, since=e2e.probe.mark())
    assert e2e.probe.count(frame, since=quiet_from) == 0, (
        "frames kept coming after the camera was switched off"
    )

    e2e.api.call_service("switch", "turn_on", {"entity_id": e2e.entities["camera_switch"]})
    e2e.wait_state("camera_switch", "on", timeout=10)
    e2e.probe.wait_for(lambda m: m.topic == frame, timeout=10, since=e2e.probe.mark())


def test_detector_crash_is_reported_and_recovery_clears_it(e2e: E2E) -> None:
    assert e2e.state("detector_connectivity")["state"] == "on"
    assert e2e.state("detector_problem")["state"] == "off"
    process = e2e.system.agents[f"detector-{DETECTOR}"]
    status = _topic("detector", DETECTOR, "status")
    mark = e2e.probe.mark()

    process.kill(signal.SIGKILL)
    assert not process.running()
    # The broker publishes the detector's last will at once; HA reports it.
    e2e.probe.wait_for(lambda m: m.topic == status and m.payload == b"offline", timeout=10, since=mark)
    e2e.wait_state("detector_connectivity", "off", timeout=15)
    assert e2e.state("detector_problem")["state"] == "off"  # the offline grace period first
    e2e.wait_state("detector_problem", "on", timeout=20)

    e2e.restart_detector()
    e2e.wait_state("detector_connectivity", "on", timeout=60)
    e2e.wait_state("detector_problem", "off", timeout=30)
    # And it works again: the next person scene is detected by the restarted detector.
    mark = e2e.probe.mark()
    e2e.probe.wait_for(lambda m: m.topic == _topic("camera", CAMERA, "detection"), timeout=40, since=mark)
