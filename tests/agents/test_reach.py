"""Reach: small and distant people, one box per person, nothing new on empty scenes.

Real model (DeepLab v3, 257×257 input), real pictures: the astronaut's person pasted at
1/16 of a 640×480 scene is out of reach of the whole frame and found in the squares the
detector cuts around motion regions, or in tiles.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bobby_edge.detector.pipeline import Pipeline
from tests.agents import test_detector_fixtures as fx
from tests.agents.test_detector_fixtures import (
    NO_PEOPLE,
    SMALL_PERSON_AT,
    TWO_PEOPLE_AT,
    dimmed,
    near,
    noise_jpeg,
    pasted,
    scene,
    to_jpeg,
)

model_path = fx.model_path

REPO = Path(__file__).resolve().parents[2]
THRESHOLD = 0.5  # the detector's default


@pytest.fixture(scope="module")
def pipeline(model_path: Path) -> Pipeline:
    return Pipeline.open(model_path)


def small_person() -> tuple[bytes, tuple[float, float, float, float]]:
    pixels, [box] = pasted("rocket", (SMALL_PERSON_AT,))
    return to_jpeg(pixels), box


def empty_scenes() -> dict[str, bytes]:
    scenes = {name: scene(name) for name in NO_PEOPLE}
    scenes["noise"] = noise_jpeg(640, 480)
    scenes["dimmed coffee"] = dimmed("coffee")
    return scenes


def test_a_small_person_is_out_of_reach_of_the_whole_frame_and_found_in_a_region_square(
    pipeline: Pipeline,
) -> None:
    jpeg, box = small_person()
    assert pipeline.analyse(jpeg).select(THRESHOLD) == []  # the old detector's view
    # A camera's motion region is rarely the exact person: a little off and smaller.
    region = (box[0] + 0.02, box[1] + 0.05, box[2] - 0.03, box[3] - 0.1)
    analysis = pipeline.analyse(jpeg, regions=[region])
    [person] = analysis.select(THRESHOLD)
    assert near(person.box, box), (person.box, box)
    # The region is smaller than her: its tight square (issue 24) cuts her, so a square of
    # the model input's size around it is analysed too.
    assert analysis.region_crops == 2
    assert analysis.tile_crops == 0


def test_a_small_person_is_found_in_tiles(pipeline: Pipeline) -> None:
    jpeg, box = small_person()
    analysis = pipeline.analyse(jpeg, tiles=True)
    [person] = analysis.select(THRESHOLD)
    assert near(person.box, box), (person.box, box)
    assert analysis.tile_crops == 6 + 24  # 640×480: 3 × 2 tiles of 320 px, 6 × 4 of 193


def test_no_regions_from_the_camera_means_the_whole_frame_only(pipeline: Pipeline) -> None:
    jpeg, _box = small_person()
    analysis = pipeline.analyse(jpeg, regions=[], tiles=True)  # [] = no motion: no tiles either
    assert analysis.region_crops == analysis.tile_crops == 0


@pytest.mark.parametrize("name", [*NO_PEOPLE, "noise", "dimmed coffee"])
def test_empty_scenes_stay_empty_with_regions_and_tiles(pipeline: Pipeline, name: str) -> None:
    jpeg = empty_scenes()[name]
    assert pipeline.analyse(jpeg, tiles=True).select(THRESHOLD) == []
    # Motion regions all over the frame: corners, centre, a long strip, the whole frame.
    regions = [(0, 0, 0.2, 0.2), (0.8, 0.8, 1, 1), (0.4, 0.4, 0.6, 0.6), (0, 0.45, 1, 0.55), (0, 0, 1, 1)]
    analysis = pipeline.analyse(jpeg, regions=regions)
    assert analysis.select(THRESHOLD) == []
    assert analysis.region_crops >= 3


def test_two_people_apart_give_two_boxes_where_they_were_pasted(pipeline: Pipeline) -> None:
    pixels, boxes = pasted("rocket", TWO_PEOPLE_AT)
    jpeg = to_jpeg(pixels)
    for analysis in (pipeline.analyse(jpeg, regions=boxes), pipeline.analyse(jpeg, tiles=True)):
        people = analysis.select(THRESHOLD)
        assert len(people) == 2, people
        for box in boxes:
            assert any(near(p.box, box) for p in people), (people, box)


def test_two_people_in_one_whole_frame_are_two_boxes(pipeline: Pipeline) -> None:
    """The segmentation model gives one mask: its connected components are the people."""
    pixels, boxes = pasted("rocket", ((20, 40), (380, 40)), fraction=1 / 4)
    people = pipeline.analyse(to_jpeg(pixels)).select(THRESHOLD)
    assert len(people) == 2, people
    for box in boxes:
        assert any(near(p.box, box) for p in people), (people, box)
    assert len({p.score for p in people}) == 2  # each its own score


def run_detect(*args: str) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "bobby_edge", "detect", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        env={"PYTHONPATH": str(REPO / "edge_agents"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_detect_finds_small_people_with_its_defaults(tmp_path: Path, model_path: Path) -> None:
    jpeg, box = small_person()
    one = tmp_path / "one.jpg"
    one.write_bytes(jpeg)
    pixels, boxes = pasted("rocket", TWO_PEOPLE_AT)
    two = tmp_path / "two.png"  # not a JPEG: the same path for other formats
    Image.fromarray(pixels).save(two)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(scene("rocket"))
    found, pair, nobody = run_detect("--model", str(model_path), str(one), str(two), str(empty))
    assert found["person"] is True
    assert found["person_count"] == 1
    assert found["tiles"] == 30
    [only] = found["boxes"]  # type: ignore[misc]
    assert near(only["box"], box)
    assert pair["person_count"] == 2
    for expected in boxes:
        assert any(near(b["box"], expected) for b in pair["boxes"])  # type: ignore[attr-defined]
    assert nobody["person"] is False
    assert nobody["person_count"] == 0

    [whole] = run_detect("--model", str(model_path), "--no-tiles", str(one))
    assert whole["person"] is False  # the whole frame alone: out of reach
    assert whole["tiles"] == 0


def test_the_motion_detector_and_the_detector_agree_on_where_the_person_is(pipeline: Pipeline) -> None:
    """The camera's regions for a person who walks in lead the detector to them."""
    from bobby_edge.camera.motion import MotionDetector

    empty = scene("rocket")
    jpeg, box = small_person()
    motion = MotionDetector()
    for _ in range(3):
        assert motion.regions(empty).regions == []
    regions = motion.regions(jpeg).regions
    assert len(regions) == 1
    assert near(regions[0], box)
    [person] = pipeline.analyse(jpeg, regions=regions).select(THRESHOLD)
    assert near(person.box, box)
    assert np.isfinite(person.score)
