"""Masks and objects (issue 24, parts 4 and 5): what the owner sets in Home Assistant
travels with every frame; any detector drops objects lying mostly inside a mask and looks
for the objects picked. Real model, real pictures, a real broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bobby_edge import protocol
from bobby_edge.detector import masks
from bobby_edge.detector.models import Person
from bobby_edge.detector.pipeline import Pipeline
from tests.agents import test_detector_fixtures as fx
from tests.agents.camera_support import TOPIC, frames, running_agent, send_command, write_samples
from tests.agents.test_detector_fixtures import (
    Camera,
    detection_payloads,
    running_detector,
    scene,
    wait_until,
)
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

model_path = fx.model_path  # session fixtures shared by the detector tests
camera = fx.camera

ASTRONAUT = scene("astronaut")  # DeepLab's box of her: about (0.0, 0.04, 0.74, 1.0)
CAT = scene("chelsea")  # a cat filling the frame: no person
LEFT_THREE_QUARTERS = [[0.0, 0.0], [0.75, 0.0], [0.75, 1.0], [0.0, 1.0]]
RIGHT_EDGE = [[0.8, 0.0], [1.0, 0.0], [1.0, 1.0], [0.8, 1.0]]


def _settings(
    masks_: list[list[list[float]]] | None = None, objects: list[str] | None = None
) -> dict[str, str]:
    values = {}
    if masks_ is not None:
        values[protocol.MASKS_PROPERTY] = protocol.format_masks(masks_)
    if objects is not None:
        values[protocol.OBJECTS_PROPERTY] = protocol.format_objects(objects)
    return values


def _barrier(probe: Probe) -> None:
    """A detector command's ack: published after whatever the detector sent before it."""
    mark = probe.mark()
    probe.publish("bobby/detector/det1/set", protocol.encode({"id": "barrier", "enabled": True}))
    probe.on_topic("bobby/detector/det1/ack", since=mark)


def _analysed(
    probe: Probe, agent: Any, camera_: Camera, frame: bytes, properties: dict[str, str]
) -> list[dict[str, Any]]:
    """Send one frame; once it is analysed, the detections it gave (none or one)."""
    mark = probe.mark()
    before = agent.frames_analysed
    camera_.send_with("yard", frame, {protocol.FRAME_TIME_PROPERTY: "1000.0", **properties})
    wait_until(lambda: agent.frames_analysed == before + 1, what="frame analysed")
    _barrier(probe)
    return detection_payloads(probe, "yard", since=mark)


def test_a_person_mostly_inside_a_mask_is_not_reported(
    broker: Mosquitto, probe: Probe, camera: Camera, model_path: Path
) -> None:
    probe.subscribe("bobby/#")
    with running_detector(broker, probe, model_path) as agent:
        assert _analysed(probe, agent, camera, ASTRONAUT, _settings([LEFT_THREE_QUARTERS])) == []
        assert probe.count("bobby/camera/yard/snapshot") == 0  # no snapshot either

        # A mask beside her leaves her reported, with her label.
        [kept] = _analysed(probe, agent, camera, ASTRONAUT, _settings([RIGHT_EDGE]))
        assert kept["person_count"] == 1
        assert [b["label"] for b in kept["boxes"]] == ["person"]

        # A plain frame (an ESP32-CAM, no properties): no mask, person only, as before.
        [plain] = _analysed(probe, agent, camera, ASTRONAUT, {})
        assert plain["person_count"] == 1


def test_objects_picked_are_reported_with_their_label(
    broker: Mosquitto, probe: Probe, camera: Camera, model_path: Path
) -> None:
    probe.subscribe("bobby/#")
    with running_detector(broker, probe, model_path) as agent:
        assert _analysed(probe, agent, camera, CAT, {}) == []  # person only, by default
        [seen] = _analysed(probe, agent, camera, CAT, _settings(objects=["person", "cat"]))
        assert [b["label"] for b in seen["boxes"]] == ["cat"]
        assert seen["person_count"] == 0
        assert seen["boxes"][0]["score"] >= 0.5
        # Masks apply to every object.
        whole = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
        assert _analysed(probe, agent, camera, CAT, _settings([whole], ["cat"])) == []


def test_hostile_mask_and_object_properties_are_defused(
    broker: Mosquitto, probe: Probe, camera: Camera, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    probe.subscribe("bobby/#")
    with running_detector(broker, probe, model_path) as agent:
        hostile = {
            protocol.MASKS_PROPERTY: json.dumps([[[0, 0], [2, 0], [0, 1]], "x", [[0.0, 0.0], [0.1, 0.1]]]),
            protocol.OBJECTS_PROPERTY: '["unicorn"]',
        }
        # Every mask dropped, the unknown label too: the person is reported as without them.
        [seen] = _analysed(probe, agent, camera, ASTRONAUT, hostile)
        assert seen["person_count"] == 1
        [again] = _analysed(probe, agent, camera, ASTRONAUT, {protocol.MASKS_PROPERTY: "[[" * 40})
        assert again["person_count"] == 1
    assert "outside the frame" in caplog.text


def test_the_pipeline_finds_the_cat_only_when_asked(model_path: Path) -> None:
    pipeline = Pipeline.open(model_path, threads=1)
    assert pipeline.analyse(CAT).select(0.5) == []
    [cat] = pipeline.analyse(CAT, objects=("person", "cat")).select(0.5)
    assert cat.label == "cat"
    [person] = pipeline.analyse(ASTRONAUT, objects=("person", "cat")).select(0.5)
    assert person.label == "person"


def test_masked_share_follows_the_polygons() -> None:
    square = masks.raster(((((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))),))
    assert masks.masked_share((0.0, 0.0, 0.5, 1.0), square) == 1.0
    assert masks.masked_share((0.5, 0.0, 1.0, 1.0), square) == pytest.approx(0.0, abs=0.01)
    assert masks.masked_share((0.25, 0.0, 0.75, 1.0), square) == pytest.approx(0.5, abs=0.01)
    triangle = masks.raster((((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)),))
    assert masks.masked_share((0.0, 0.0, 1.0, 1.0), triangle) == pytest.approx(0.5, abs=0.01)
    people = [Person(0.9, (0.0, 0.0, 0.4, 1.0)), Person(0.8, (0.35, 0.0, 0.75, 1.0), "dog")]
    assert masks.unmasked(people, square) == [people[1]]  # 3/8 of the dog is masked: kept
    assert masks.unmasked(people, None) == people


@pytest.mark.parametrize(
    ("polygon", "reason"),
    [
        ([[0.1, 0.1], [0.2, 0.2]], "points"),
        ([[0.0, 0.0], [1.2, 0.0], [0.5, 0.5]], "range"),
        ([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]], "self_intersecting"),
        ([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]], "area"),
        ("a square", "shape"),
        ([[0.0, 0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], "shape"),
        ([[0.0, 0.0]] * 33, "points"),
    ],
)
def test_a_polygon_that_is_not_one_is_refused(polygon: Any, reason: str) -> None:
    with pytest.raises(protocol.PolygonError) as caught:
        protocol.check_polygon(polygon, "mask 1")
    assert caught.value.reason == reason
    assert "mask 1" in str(caught.value)


def test_polygon_contains_uses_the_bottom_centre_rule() -> None:
    door = protocol.check_polygon([[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]])
    assert protocol.polygon_contains(door, 0.75, 0.99)
    assert not protocol.polygon_contains(door, 0.25, 0.99)
    # Feet cut by the frame's bottom edge, or on the zone's side: in the zone.
    assert protocol.polygon_contains(door, 0.75, 1.0)
    assert protocol.polygon_contains(door, 0.5, 0.7)
    assert not protocol.polygon_contains(door, 0.75, 0.45)


def test_the_camera_keeps_masks_and_objects_and_sends_them_with_every_frame(
    broker: Mosquitto, probe: Probe, tmp_path: Path
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    write_samples(tmp_path / "pics")
    with running_agent(broker, f"images:{tmp_path / 'pics'}") as agent:
        probe.on_topic(f"{TOPIC}/frame", timeout=30)
        # A plain camera sends no masks or objects: frames as before.
        assert protocol.MASKS_PROPERTY not in frames(probe)[-1].user_properties
        ack = send_command(probe, {"id": "m1", "masks": [LEFT_THREE_QUARTERS], "objects": ["person", "car"]})
        assert ack["ok"] is True
        assert ack["state"]["masks"] == [LEFT_THREE_QUARTERS]
        assert ack["state"]["objects"] == ["person", "car"]
        mark = probe.mark()
        frame = probe.on_topic(f"{TOPIC}/frame", timeout=10, since=mark)
        sent = protocol.parse_frame_settings(
            frame.user_properties[protocol.MASKS_PROPERTY], frame.user_properties[protocol.OBJECTS_PROPERTY]
        )
        assert sent.masks == (tuple(tuple(p) for p in LEFT_THREE_QUARTERS),)
        assert sent.objects == ("person", "car")
        bad = send_command(probe, {"id": "m2", "masks": [[[0, 0], [1, 1], [1, 0], [0, 1]]]})
        assert bad["ok"] is False
        assert "crosses itself" in bad["error"]
        state_file = agent.state_store.path
    # Kept on disk: a restart (Home Assistant away) comes back with them.
    saved = json.loads(state_file.read_text())["state"]
    assert saved["masks"] == [LEFT_THREE_QUARTERS]
    assert saved["objects"] == ["person", "car"]
    with running_agent(broker, f"images:{tmp_path / 'pics'}") as again:
        assert again.masks == [LEFT_THREE_QUARTERS]
        assert again.objects == ["person", "car"]
        mark = probe.mark()
        # Cleared: the defaults leave the state and the frames.
        ack = send_command(probe, {"id": "m3", "masks": [], "objects": ["person"]})
        assert ack["ok"] is True
        assert "masks" not in ack["state"]
        assert "objects" not in ack["state"]
        frame = probe.on_topic(f"{TOPIC}/frame", timeout=10, since=probe.mark())
        assert protocol.MASKS_PROPERTY not in frame.user_properties
        assert protocol.OBJECTS_PROPERTY not in frame.user_properties
