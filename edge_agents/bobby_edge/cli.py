"""`bobby-edge`: command-line parsing only; the work happens in the agents' modules."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .config import (
    CameraConfig,
    DetectorConfig,
    default_of,
    load_camera,
    load_detector,
    options_of,
)
from .errors import ConfigError, StartupError
from .options import Option


def _help(default: Any, how: Option) -> str:
    shown = f"{default:g}" if isinstance(default, float) else str(default)
    lo_hi = f"{how.range[0]:g}-{how.range[1]:g}" if how.range else ""
    return (how.help or "").format(default=shown, range=lo_hi)


def add_options(
    parser: argparse.ArgumentParser, cls: type, only: Sequence[str] = (), *, with_defaults: bool = False
) -> None:
    """A flag for each option of the config class that has help (or those named in `only`).

    Flags default to None (the YAML file and the environment then decide) unless
    `with_defaults`, for commands that read no configuration.
    """
    for f, how in options_of(cls):
        if how.help is None or (only and f.name not in only):
            continue
        default = default_of(f, how)
        flag = how.flag or "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f.name, "help": _help(default, how)}
        if how.const is not None:
            kwargs.update(action="store_const", const=how.const)
        else:
            kwargs.update(type=how.type, metavar=how.metavar)
        if with_defaults:
            kwargs["default"] = default
        parser.add_argument(flag, **kwargs)


def _agent_parser(sub: Any, kind: str, cls: type, help_text: str) -> None:
    parser = sub.add_parser(kind, help=help_text)
    add = parser.add_argument
    add("--config", metavar="FILE", help="YAML file of options (flags and BOBBY_* variables override it)")
    add("--validate-config", action="store_true", help="check the configuration, print it and exit")
    add_options(parser, cls)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bobby-edge", description="Bobby Camera edge agents")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _agent_parser(sub, "camera", CameraConfig, "publish camera frames to MQTT")
    _agent_parser(sub, "detector", DetectorConfig, "detect people in frames from MQTT")

    detect = sub.add_parser("detect", help="run the model on image files; one JSON line per image")
    detect.add_argument("images", nargs="+", metavar="IMAGE")
    add_options(
        detect,
        DetectorConfig,
        ("model", "labels", "person_class", "threads", "threshold", "min_area"),
        with_defaults=True,
    )
    detect.add_argument(
        "--no-tiles",
        dest="tiles",
        action="store_false",
        help="analyse the whole image only (default: whole image plus overlapping tiles, for small people)",
    )

    model = sub.add_parser("model", help="manage the default model")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    fetch = model_sub.add_parser("fetch", help="download and verify the default model into the cache")
    fetch.add_argument("--dest", metavar="DIR", help="cache folder (default ~/.cache/bobby-camera/models)")
    model_sub.add_parser("path", help="print where the default model is (or would be) installed")
    return parser


def _flags(args: argparse.Namespace, skip: set[str]) -> dict[str, Any]:
    values = {k: v for k, v in vars(args).items() if k not in skip}
    if values.get("group") == "":
        values["group"] = None
    return values


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("bobby_edge")
    try:
        if args.command in ("camera", "detector"):
            flags = _flags(args, {"command", "config", "validate_config"})
            config = (load_camera if args.command == "camera" else load_detector)(flags, args.config)
            logging.getLogger().setLevel(config.log_level)
            if args.validate_config:
                print(config)
                return 0
            if isinstance(config, CameraConfig):
                from .camera.agent import CameraAgent

                agent: Any = CameraAgent(config)
            else:
                from .detector.agent import DetectorAgent

                agent = DetectorAgent(config)
            agent.install_signal_handlers()
            agent.run()
            return 0
        if args.command == "detect":
            from .detector.detect import detect_files

            return detect_files(args)
        from .detector import model_store

        if args.model_command == "fetch":
            print(model_store.fetch_default(args.dest))
        else:
            print(model_store.default_model_path())
        return 0
    except ConfigError as err:
        log.error("%s", err)
        return 2
    except StartupError as err:
        log.error("%s", err)
        return 1
    except KeyboardInterrupt:
        return 130
