"""`bobby-edge`: command-line parsing only; the work happens in the agents' modules."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from . import config as defaults
from .config import DEFAULT_THREADS, DEFAULT_WORKERS, CameraConfig, ConfigError, load_camera, load_detector
from .errors import StartupError
from .protocol import DEFAULT_BASE_TOPIC, DEFAULT_DETECTOR_GROUP, FPS_RANGE, MAX_CHUNK_SECONDS


def _common(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--config", metavar="FILE", help="YAML file of options (flags and BOBBY_* variables override it)")
    add("--validate-config", action="store_true", help="check the configuration, print it and exit")
    add("--broker", metavar="HOST[:PORT]", help=f"MQTT broker (default {defaults.DEFAULT_BROKER})")
    add("--id", help="agent id, unique per kind (default: the host name)")
    add("--name", help="friendly name shown in Home Assistant")
    add("--username", help="broker user name")
    add("--password", help="broker password (prefer BOBBY_PASSWORD in the environment)")
    add("--tls-ca", dest="tls_ca", metavar="FILE", help="CA certificate: connect with TLS")
    add("--tls-cert", dest="tls_cert", metavar="FILE", help="client certificate (mutual TLS)")
    add("--tls-key", dest="tls_key", metavar="FILE", help="private key of --tls-cert")
    add(
        "--state-dir",
        dest="state_dir",
        metavar="DIR",
        help="where the last commanded state is kept "
        "(default: $STATE_DIRECTORY, else ~/.local/state/bobby-camera)",
    )
    add("--base-topic", dest="base_topic", help=f"topic prefix (default {DEFAULT_BASE_TOPIC})")
    add(
        "--stats-interval",
        dest="stats_interval",
        type=float,
        metavar="S",
        help=f"heartbeat period (default {defaults.DEFAULT_STATS_INTERVAL:g})",
    )
    add("--disabled", dest="enabled", action="store_const", const=False, help="start switched off")
    add("--log-level", dest="log_level", help="DEBUG, INFO, WARNING or ERROR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bobby-edge", description="Bobby Camera edge agents")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    camera = sub.add_parser("camera", help="publish camera frames to MQTT")
    _common(camera)
    add = camera.add_argument
    add(
        "--source",
        help="picamera | images:DIR | video:FILE | http:URL | rtsp://HOST/PATH | rtsps://... | "
        f"v4l2:/dev/videoN (default {defaults.DEFAULT_SOURCE}); camera passwords go in "
        "BOBBY_SOURCE_USERNAME and BOBBY_SOURCE_PASSWORD, not here",
    )
    add(
        "--rtsp-transport",
        dest="rtsp_transport",
        help=f"tcp or udp (default {defaults.DEFAULT_RTSP_TRANSPORT})",
    )
    add(
        "--stream-timeout",
        dest="stream_timeout",
        type=float,
        metavar="S",
        help="seconds without data before a stream counts as lost and is reconnected "
        f"(default {defaults.DEFAULT_STREAM_TIMEOUT:g})",
    )
    add(
        "--record-stream",
        dest="record_stream",
        metavar="URL",
        help="RTSP URL to record (an IP camera's main stream) while --source is its sub-stream",
    )
    add(
        "--fps",
        type=float,
        help=f"frames per second ({FPS_RANGE[0]:g}-{FPS_RANGE[1]:g}, default {defaults.DEFAULT_FPS:g})",
    )
    add("--width", type=int, help=f"frame width (default {defaults.DEFAULT_WIDTH})")
    add("--height", type=int, help=f"frame height (default {defaults.DEFAULT_HEIGHT})")
    add(
        "--jpeg-quality",
        dest="jpeg_quality",
        type=int,
        help=f"1-100 (default {defaults.DEFAULT_JPEG_QUALITY})",
    )
    add(
        "--preview-interval",
        dest="preview_interval",
        type=float,
        metavar="S",
        help=f"preview period (default {defaults.DEFAULT_PREVIEW_INTERVAL:g})",
    )
    add(
        "--no-motion",
        dest="motion",
        action="store_const",
        const=False,
        help="send frames without motion regions (the detector then looks at whole frames or tiles)",
    )
    add("--no-record", dest="record", action="store_const", const=False, help="do not record events")
    add(
        "--pre-roll",
        dest="pre_roll",
        type=float,
        metavar="S",
        help=f"video kept before a detection (0-30, default {defaults.DEFAULT_PRE_ROLL:g})",
    )
    add(
        "--post-roll",
        dest="post_roll",
        type=float,
        metavar="S",
        help=f"recording after the last detection (default {defaults.DEFAULT_POST_ROLL:g})",
    )
    add(
        "--max-event",
        dest="max_event",
        type=float,
        metavar="S",
        help=f"longest event before a new one (default {defaults.DEFAULT_MAX_EVENT:g})",
    )
    add(
        "--chunk-seconds",
        dest="chunk_seconds",
        type=float,
        metavar="S",
        help=f"chunk length (2-{MAX_CHUNK_SECONDS:g}, default {defaults.DEFAULT_CHUNK_SECONDS:g})",
    )
    add(
        "--spool-dir",
        dest="spool_dir",
        metavar="DIR",
        help="where chunks wait for the core's acknowledgement (default <state dir>/spool)",
    )
    add(
        "--spool-max-mb",
        dest="spool_max_mb",
        type=int,
        metavar="MB",
        help=f"spool size limit (default {defaults.DEFAULT_SPOOL_MAX_MB})",
    )
    add(
        "--chunk-resend",
        dest="chunk_resend",
        type=float,
        metavar="S",
        help=f"resend unacknowledged chunks after (default {defaults.DEFAULT_CHUNK_RESEND:g})",
    )
    add(
        "--record-encoder",
        dest="record_encoder",
        help=f"PyAV H.264 encoder for frame sources (default {defaults.DEFAULT_RECORD_ENCODER})",
    )
    add(
        "--record-width",
        dest="record_width",
        type=int,
        help=f"picamera recording width (default {defaults.DEFAULT_RECORD_WIDTH})",
    )
    add(
        "--record-height",
        dest="record_height",
        type=int,
        help=f"picamera recording height (default {defaults.DEFAULT_RECORD_HEIGHT})",
    )
    add(
        "--record-fps",
        dest="record_fps",
        type=float,
        help=f"picamera recording rate (default {defaults.DEFAULT_RECORD_FPS:g})",
    )

    detector = sub.add_parser("detector", help="detect people in frames from MQTT")
    _common(detector)
    add = detector.add_argument
    add("--model", metavar="PATH", help="a .tflite model (default: the fetched DeepLab v3)")
    add("--labels", metavar="FILE", help="labels file for detection models (one label per line)")
    add(
        "--person-class",
        dest="person_class",
        help=f"person label or class index (default {defaults.DEFAULT_PERSON_CLASS})",
    )
    add("--threads", type=int, help=f"LiteRT threads per worker (default {DEFAULT_THREADS})")
    add(
        "--workers",
        help=f"analysis threads, each with its own model: a number or auto = one per "
        f"{DEFAULT_THREADS}-thread share of the cores (default {DEFAULT_WORKERS})",
    )
    add(
        "--tiles",
        metavar="true|false|CAM,CAM",
        help="frames without motion regions (ESP32-CAM): also analyse overlapping tiles, for all "
        "cameras or the ones named (default false)",
    )
    add("--threshold", type=float, help=f"minimum person score 0-1 (default {defaults.DEFAULT_THRESHOLD:g})")
    add(
        "--min-area",
        dest="min_area",
        type=float,
        help=f"minimum box area as a fraction (default {defaults.DEFAULT_MIN_AREA:g})",
    )
    add("--group", help=f"shared-subscription group (default {DEFAULT_DETECTOR_GROUP}; '' to not share)")
    add(
        "--max-payload",
        dest="max_payload",
        type=int,
        metavar="BYTES",
        help=f"largest frame accepted (default {defaults.DEFAULT_MAX_PAYLOAD})",
    )
    add(
        "--snapshot-interval",
        dest="snapshot_interval",
        type=float,
        metavar="S",
        help=f"minimum seconds between snapshots per camera (default {defaults.DEFAULT_SNAPSHOT_INTERVAL:g})",
    )

    detect = sub.add_parser("detect", help="run the model on image files; one JSON line per image")
    detect.add_argument("images", nargs="+", metavar="IMAGE")
    detect.add_argument("--model", metavar="PATH")
    detect.add_argument("--labels", metavar="FILE")
    detect.add_argument("--person-class", dest="person_class", default=defaults.DEFAULT_PERSON_CLASS)
    detect.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    detect.add_argument("--threshold", type=float, default=defaults.DEFAULT_THRESHOLD)
    detect.add_argument("--min-area", dest="min_area", type=float, default=defaults.DEFAULT_MIN_AREA)
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
