"""Each default is written once (config.py / protocol.py); everything else must agree with it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from bobby_edge.camera.sources.live import StreamOptions
from bobby_edge.camera.sources.rtsp import RtspOptions
from bobby_edge.cli import build_parser
from bobby_edge.config import CameraConfig, DetectorConfig, load_camera, load_detector, options_of

SYSTEMD = Path(__file__).parents[2] / "edge_agents" / "bobby_edge" / "systemd"
NOT_DEFAULTS = {"id", "name", "broker", "state_dir", "spool_dir"}  # per machine, by nature


def _field_defaults(cls: type) -> dict[str, Any]:
    """Every option's default, those of the sources' own groups (`stream`, `rtsp`) included."""
    return {
        f.name: f.default
        for f, _ in options_of(cls)
        if f.default is not dataclasses.MISSING and f.name not in NOT_DEFAULTS
    }


@pytest.mark.parametrize(
    ("cls", "load"),
    [(CameraConfig, load_camera), (DetectorConfig, load_detector)],
    ids=["camera", "detector"],
)
def test_the_schema_and_the_config_class_have_the_same_defaults(cls: type, load: Any, tmp_path: Path) -> None:
    loaded = load({"id": "x", "state_dir": str(tmp_path)}, environ={})
    values = {f.name: getattr(loaded, f.name) for f in dataclasses.fields(cls)}
    for group in ("broker", "stream", "rtsp"):
        if group in values:
            values.update(dataclasses.asdict(values.pop(group)))
    for name, default in _field_defaults(cls).items():
        assert values[name] == default, name


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


def test_each_option_is_declared_once_and_a_source_declares_its_own() -> None:
    camera = [f for f, _ in options_of(CameraConfig)]
    detector = [f for f, _ in options_of(DetectorConfig)]
    for found in (camera, detector):
        names = [f.name for f in found]
        assert len(names) == len(set(names)), "an option is declared twice"
    # The stream sources' options live with the sources, not flat in the camera's config.
    own = {f.name for f in dataclasses.fields(CameraConfig)}
    sources_own = {"source_username", "source_password", "rtsp_transport", "record_stream", "stream_timeout"}
    assert not own & sources_own
    assert {f.name for f in dataclasses.fields(RtspOptions)} <= {f.name for f in camera}
    assert {f.name for f in dataclasses.fields(StreamOptions)} <= {f.name for f in camera}
