"""Each default is written once (config.py / protocol.py); everything else must agree with it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from bobby_edge.cli import build_parser
from bobby_edge.config import CameraConfig, DetectorConfig, load_camera, load_detector

SYSTEMD = Path(__file__).parents[2] / "edge_agents" / "bobby_edge" / "systemd"
NOT_DEFAULTS = {"id", "name", "broker", "state_dir", "spool_dir"}  # per machine, by nature


def _field_defaults(cls: type) -> dict[str, Any]:
    return {
        f.name: f.default
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING and f.name not in NOT_DEFAULTS
    }


@pytest.mark.parametrize(
    ("cls", "load"),
    [(CameraConfig, load_camera), (DetectorConfig, load_detector)],
    ids=["camera", "detector"],
)
def test_the_schema_and_the_config_class_have_the_same_defaults(cls: type, load: Any, tmp_path: Path) -> None:
    loaded = load({"id": "x", "state_dir": str(tmp_path)}, environ={})
    for name, default in _field_defaults(cls).items():
        assert getattr(loaded, name) == default, name


def test_the_shipped_camera_example_shows_the_defaults() -> None:
    example = yaml.safe_load((SYSTEMD / "camera.yaml.example").read_text())
    defaults = _field_defaults(CameraConfig)
    shown = {k: v for k, v in example.items() if k not in NOT_DEFAULTS and k != "source"}
    assert shown, "the example shows no options"
    for name, value in shown.items():
        assert value == defaults[name], (
            f"camera.yaml.example: {name}: {value} but the default is {defaults[name]}"
        )


def test_the_detect_command_uses_the_detectors_defaults() -> None:
    args = build_parser().parse_args(["detect", "x.jpg"])
    defaults = _field_defaults(DetectorConfig)
    for name in ("person_class", "threads", "threshold", "min_area"):
        assert getattr(args, name) == defaults[name], name
