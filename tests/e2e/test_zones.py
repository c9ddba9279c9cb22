"""End to end: masks and zones set in a real Home Assistant reach the real camera agent and
detector (issue 24). A masked person makes no detection, so no event and no clip; a person
turns on the sensor of the zone she stands in and no other.

Shares the running system of conftest.py and leaves it as it found it: no zones, no masks.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
from typing import Any

from PIL import Image

from .conftest import CAMERA, E2E, EMPTY_SECONDS, FPS, PERSON_SECONDS
from .test_recording import SHOTS, playable_events

WHOLE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
# The sample people stand left of the middle (astronaut and camera, letterboxed to 640×480).
LEFT = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]
RIGHT = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
# A mask away from the people (top right): drawn on the picture, masks nobody.
CORNER = [[0.8, 0.0], [1.0, 0.0], [1.0, 0.25], [0.8, 0.25]]
CYCLE_FRAMES = round((PERSON_SECONDS + EMPTY_SECONDS) * FPS)
PICTURE = "screenshot-last-detection-zones.jpg"


def _camera_device(e2e: E2E) -> str:
    person = e2e.entities["person"]
    return str(next(e["device_id"] for e in e2e.api.entity_registry() if e["entity_id"] == person))


def _set(e2e: E2E, **data: Any) -> None:
    e2e.api.call_service("bobby_camera", "set_zones", {"device_id": _camera_device(e2e), **data})


def _zone_entity(e2e: E2E, name: str) -> str | None:
    return e2e.api.entity_by_unique_id("bobby_camera", f"camera_{CAMERA}_zone_{name}")


def test_a_masked_person_makes_no_event_and_no_clip(e2e: E2E) -> None:
    frame, detection = f"bobby/camera/{CAMERA}/frame", f"bobby/camera/{CAMERA}/detection"
    e2e.wait_state("person", "off", timeout=90)
    clips = playable_events(e2e)
    try:
        _set(e2e, masks=[WHOLE])  # returns once the camera acknowledged
        masked = e2e.probe.wait_for(
            lambda m: m.topic == frame and "masks" in m.user_properties, timeout=10, since=e2e.probe.mark()
        )
        first = e2e.probe.messages.index(masked)
        # A whole cycle of the sample pictures (person scenes included), every frame masked.
        e2e.wait_for(
            lambda: e2e.probe.count(frame, since=first) > CYCLE_FRAMES + 4, 60, "a whole cycle of frames"
        )
        sent = [m for m in e2e.probe.messages[first:] if m.topic == frame]
        assert all("masks" in m.user_properties for m in sent)
        since_masked = float(masked.user_properties["frame_time"])
        detections = [
            json.loads(m.payload)
            for m in e2e.probe.messages[first:]
            if m.topic == detection and json.loads(m.payload)["frame_time"] >= since_masked
        ]
        assert detections == []
        assert e2e.state("person")["state"] == "off"
        # No new event, so no clip (event ids begin with their trigger's UTC time; one that
        # began before the masks may still become playable meanwhile).
        masked_since = time.strftime("%Y%m%d-%H%M%S", time.gmtime(since_masked))
        new = {e for e in playable_events(e2e) - clips if e.rsplit("/", 1)[1] >= masked_since}
        assert new == set()
    finally:
        _set(e2e, masks=[])


def _last_detection_picture(e2e: E2E) -> bytes:
    entity = e2e.api.entity_by_unique_id("bobby_camera", f"camera_{CAMERA}_snapshot")
    request = urllib.request.Request(
        f"{e2e.api.url}/api/camera_proxy/{entity}",
        headers={"Authorization": f"Bearer {e2e.api.tokens['access_token']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


def test_a_person_turns_on_only_her_zone(e2e: E2E) -> None:
    try:
        _set(e2e, zones={"Left": LEFT, "Right": RIGHT}, masks=[CORNER])
        left = e2e.wait_for(lambda: _zone_entity(e2e, "Left"), 10, "the Left zone's sensor appears")
        right = e2e.wait_for(lambda: _zone_entity(e2e, "Right"), 10, "the Right zone's sensor appears")
        e2e.wait_state("person", "off", timeout=90)
        e2e.wait_state("person", "on", timeout=60)
        e2e.wait_for(lambda: e2e.api.state(left)["state"] == "on", 10, "the Left zone turns on")
        assert e2e.api.state(right)["state"] == "off"
        # The Last detection picture as Home Assistant serves it: zones and the mask drawn.
        picture = _last_detection_picture(e2e)
        with Image.open(io.BytesIO(picture)) as image:
            assert image.format == "JPEG"
        SHOTS.mkdir(exist_ok=True)
        (SHOTS / PICTURE).write_bytes(picture)
    finally:
        _set(e2e, zones={}, masks=[])
