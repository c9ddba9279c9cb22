"""The detector's workers and tiles options: one default each, clear errors, auto sizing."""

from __future__ import annotations

import pytest

from bobby_edge import cli
from bobby_edge.config import (
    DEFAULT_THREADS,
    DEFAULT_WORKERS,
    ConfigError,
    DetectorConfig,
    load_detector,
    resolve_workers,
    usable_cores,
)


def detector(**flags: object) -> DetectorConfig:
    return load_detector({"id": "d", **flags}, environ={})


def test_defaults_come_from_one_place() -> None:
    config = detector()
    assert (config.threads, config.workers, config.tiles) == (DEFAULT_THREADS, DEFAULT_WORKERS, False)
    assert DetectorConfig(broker=config.broker, id="d", state_dir=config.state_dir).workers == DEFAULT_WORKERS
    args = cli.build_parser().parse_args(["detect", "x.jpg"])
    assert args.threads == DEFAULT_THREADS
    assert args.tiles is True  # `detect` tiles unless told not to
    assert cli.build_parser().parse_args(["detect", "--no-tiles", "x.jpg"]).tiles is False


def test_auto_workers_fill_the_usable_cores() -> None:
    cores = usable_cores()
    assert resolve_workers("auto", 1) == cores
    assert resolve_workers("auto", cores) == 1
    assert resolve_workers("auto", 64) == 1  # never none
    assert resolve_workers(3, 1) == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [("auto", "auto"), ("AUTO", "auto"), ("2", 2), (4, 4)],
)
def test_workers_values(value: object, expected: object) -> None:
    assert detector(workers=value).workers == expected


@pytest.mark.parametrize("value", ["0", "many", "65", True, -1])
def test_bad_workers_name_the_option(value: object) -> None:
    with pytest.raises(ConfigError, match="workers: expected auto or a whole number"):
        detector(workers=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("off", False),
        (False, False),
        ("esp32,garage", ("esp32", "garage")),
        (["esp32"], ("esp32",)),
    ],
)
def test_tiles_for_all_none_or_named_cameras(value: object, expected: object) -> None:
    assert detector(tiles=value).tiles == expected


@pytest.mark.parametrize("value", ["bad id!", [], 3])
def test_bad_tiles_name_the_option(value: object) -> None:
    with pytest.raises(ConfigError, match="tiles"):
        detector(tiles=value)


def test_tiles_from_the_environment() -> None:
    config = load_detector({"id": "d"}, environ={"BOBBY_TILES": "esp32", "BOBBY_WORKERS": "2"})
    assert config.tiles == ("esp32",)
    assert config.workers == 2
