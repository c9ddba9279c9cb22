"""`bobby-edge detect`: the real model on real pictures says person / no person."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents import test_detector_fixtures as fx
from tests.agents.test_detector_fixtures import NO_PEOPLE, PEOPLE, scene

model_path = fx.model_path  # a session fixture, shared by the detector tests

REPO = Path(__file__).resolve().parents[2]


def run_detect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bobby_edge", "detect", "--threads", "2", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PYTHONPATH": str(REPO / "edge_agents"), "PATH": "/usr/bin:/bin"},
    )


def test_detect_says_person_only_where_there_is_one(tmp_path: Path, model_path: Path) -> None:
    files = []
    for name in (*PEOPLE, *NO_PEOPLE):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(scene(name, size=None))  # the pictures at their own sizes
        files.append(str(path))
    result = run_detect("--model", str(model_path), *files)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == files
    verdicts = {Path(line["image"]).stem: line["person"] for line in lines}
    assert verdicts == {**dict.fromkeys(PEOPLE, True), **dict.fromkeys(NO_PEOPLE, False)}
    for line in lines:
        assert set(line) == {"image", "person", "person_count", "score", "boxes", "inference_ms", "tiles"}
        assert line["inference_ms"] > 0
        if line["person"]:
            assert line["score"] >= 0.5
            [box] = line["boxes"]
            xmin, ymin, xmax, ymax = box["box"]
            assert 0 <= xmin < xmax <= 1
            assert 0 <= ymin < ymax <= 1
            assert (xmax - xmin) * (ymax - ymin) > 0.1  # both people fill a good part of the frame
        else:
            assert line["score"] == 0.0
            assert line["boxes"] == []


def test_detect_reports_unreadable_images_and_fails_at_the_end(tmp_path: Path, model_path: Path) -> None:
    good = tmp_path / "astronaut.png"  # not a JPEG: other formats are read too
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(good)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(scene("astronaut")[:3000])
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    missing = tmp_path / "missing.jpg"
    result = run_detect("--model", str(model_path), str(corrupt), str(good), str(text), str(missing))
    assert result.returncode == 1
    lines = {Path(x["image"]).name: x for x in map(json.loads, result.stdout.splitlines())}
    assert list(lines) == ["corrupt.jpg", "astronaut.png", "notes.txt", "missing.jpg"]
    assert lines["astronaut.png"]["person"] is True
    assert "corrupt JPEG" in lines["corrupt.jpg"]["error"]
    assert "not an image" in lines["notes.txt"]["error"]
    assert "No such file" in lines["missing.jpg"]["error"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model", "/nonexistent/model.tflite"], "does not exist: run `bobby-edge model fetch`"),
        (["--person-class", "pedestrian"], "no labels file"),
    ],
)
def test_detect_startup_errors_name_the_fix(
    model_path: Path,
    tmp_path: Path,
    flags: list[str],
    message: str,
) -> None:
    image = tmp_path / "a.jpg"
    image.write_bytes(scene("astronaut"))
    args = ["--model", str(model_path), *flags] if "--model" not in flags else flags
    result = run_detect(*args, str(image))
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stdout == ""
