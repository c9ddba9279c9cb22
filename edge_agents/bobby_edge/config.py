"""One validated configuration per agent, merged from YAML, environment and flags.

Precedence, lowest first: built-in defaults, the YAML file (`--config`), environment
variables (`BOBBY_<OPTION>`, e.g. `BOBBY_PASSWORD` — keep secrets out of the command
line), command-line flags. Every error names the option and what it accepts.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from .protocol import (
    BASE_TOPIC_RULE,
    DEFAULT_BASE_TOPIC,
    DEFAULT_DETECTOR_GROUP,
    FPS_RANGE,
    ID_RULE,
    MAX_CHUNK_SECONDS,
    MAX_JPEG_BYTES,
    MAX_TEXT_LENGTH,
    is_valid_agent_id,
    is_valid_base_topic,
    is_valid_text,
)
from .redaction import redact_url
from .state_store import default_state_dir

ENV_PREFIX = "BOBBY_"
# Defaults: each written once, here; the schemas, the config classes, the CLI's help and
# the shipped examples (tests/agents/test_config_defaults.py) all take them from here.
DEFAULT_BROKER = "127.0.0.1:1883"
DEFAULT_STATS_INTERVAL = 10.0  # seconds between heartbeats
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_SOURCE = "picamera"
DEFAULT_FPS = 2.0
DEFAULT_WIDTH = 1280
DEFAULT_HEIGHT = 720
DEFAULT_JPEG_QUALITY = 80
DEFAULT_PREVIEW_INTERVAL = 5.0
DEFAULT_PREVIEW_WIDTH = 320
DEFAULT_RTSP_TRANSPORT = "tcp"
DEFAULT_STREAM_TIMEOUT = 10.0
DEFAULT_PERSON_CLASS = "person"
DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_AREA = 0.0
DEFAULT_SNAPSHOT_INTERVAL = 2.0
# Recording (docs/protocol.md, "chunk").
DEFAULT_PRE_ROLL = 10.0
DEFAULT_POST_ROLL = 10.0
DEFAULT_MAX_EVENT = 300.0
DEFAULT_CHUNK_SECONDS = 10.0
DEFAULT_SPOOL_MAX_MB = 200
DEFAULT_CHUNK_RESEND = 30.0
DEFAULT_RECORD_ENCODER = "libx264"
DEFAULT_RECORD_WIDTH = 1280
DEFAULT_RECORD_HEIGHT = 720
DEFAULT_RECORD_FPS = 15.0
DEFAULT_MAX_PAYLOAD = MAX_JPEG_BYTES
# The detector: `workers` threads, each with its own LiteRT interpreter of `threads` threads.
# One 1-thread interpreter per core beats one interpreter with a thread per core (bench:
# docs/performance.md); "auto" gives every usable core a worker.
DEFAULT_THREADS = 1
DEFAULT_WORKERS = "auto"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which option and why."""


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs
    tls_ca: str | None = None
    tls_cert: str | None = None  # client certificate (mutual TLS), with tls_key
    tls_key: str | None = None

    @property
    def url(self) -> str:
        return f"{self.host}:{self.port}"


def parse_broker(value: Any) -> tuple[str, int]:
    """`HOST[:PORT]` → (host, port); the port defaults to 1883."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("expected HOST or HOST:PORT, e.g. 192.168.1.10:1883")
    host, sep, port_text = value.strip().rpartition(":")
    if not sep:
        return value.strip(), 1883
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise vol.Invalid(f"port {port_text!r} is not a number between 1 and 65535")
    return host, int(port_text)


def _agent_id(value: Any) -> str:
    if not is_valid_agent_id(value):
        raise vol.Invalid(f"use {ID_RULE} (e.g. porch or pi4-a)")
    return str(value)


def _base_topic(value: Any) -> str:
    # The rule Home Assistant's config flow applies too: an agent it cannot follow is refused here.
    if not is_valid_base_topic(value):
        raise vol.Invalid(f"use {BASE_TOPIC_RULE}")
    return str(value)


def _name(value: Any) -> str:
    if not is_valid_text(value):
        raise vol.Invalid(f"use 1-{MAX_TEXT_LENGTH} characters without control characters")
    return str(value)


def _existing_file(value: Any) -> str:
    if not isinstance(value, str) or not Path(value).expanduser().is_file():
        raise vol.Invalid(f"file {value!r} does not exist")
    return str(Path(value).expanduser())


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
        return False
    raise vol.Invalid("expected true or false")


def usable_cores() -> int:
    """Cores this process may run on (a container's or taskset's limit, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | str, threads: int) -> int:
    """`auto` → one worker per `threads` usable cores (at least one); a number as given."""
    if workers == "auto":
        return max(1, usable_cores() // max(1, threads))
    return int(workers)


def _workers(value: Any) -> int | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise vol.Invalid("expected auto or a whole number of worker threads 1-64") from None
    if isinstance(value, bool) or not 1 <= number <= 64:
        raise vol.Invalid("expected auto or a whole number of worker threads 1-64")
    return number


def _tiles(value: Any) -> bool | tuple[str, ...]:
    """true / false, or the cameras (a list or `a,b`) whose frames without regions are tiled."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return _bool(value)
        except vol.Invalid:
            value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple) and value:
        return tuple(_agent_id(v) for v in value)
    raise vol.Invalid("expected true, false, or camera ids (a list, or a,b) whose frames are tiled")


def _number(lo: float, hi: float, kind: type = float) -> vol.All:
    return vol.All(vol.Coerce(kind), vol.Range(min=lo, max=hi))


COMMON_SCHEMA: dict[Any, Any] = {
    vol.Required("broker", default=DEFAULT_BROKER): vol.All(str, parse_broker),
    vol.Required("id", default=socket.gethostname().split(".")[0]): _agent_id,
    vol.Optional("name"): _name,
    vol.Optional("username"): vol.Any(None, str),
    vol.Optional("password"): vol.Any(None, str),
    vol.Optional("tls_ca"): vol.Any(None, _existing_file),
    vol.Optional("tls_cert"): vol.Any(None, _existing_file),
    vol.Optional("tls_key"): vol.Any(None, _existing_file),
    vol.Optional("state_dir"): vol.Any(None, vol.All(str, vol.Length(min=1))),
    vol.Required("base_topic", default=DEFAULT_BASE_TOPIC): _base_topic,
    vol.Required("stats_interval", default=DEFAULT_STATS_INTERVAL): _number(0.5, 3600),
    vol.Required("enabled", default=True): _bool,
    vol.Required("log_level", default=DEFAULT_LOG_LEVEL): vol.All(
        vol.Upper, vol.In(["DEBUG", "INFO", "WARNING", "ERROR"])
    ),
}

CAMERA_SCHEMA: dict[Any, Any] = {
    **COMMON_SCHEMA,
    vol.Required("source", default=DEFAULT_SOURCE): str,
    vol.Required("fps", default=DEFAULT_FPS): _number(*FPS_RANGE),
    vol.Required("width", default=DEFAULT_WIDTH): _number(16, 8192, int),
    vol.Required("height", default=DEFAULT_HEIGHT): _number(16, 8192, int),
    vol.Required("jpeg_quality", default=DEFAULT_JPEG_QUALITY): _number(1, 100, int),
    vol.Required("preview_interval", default=DEFAULT_PREVIEW_INTERVAL): _number(0.5, 3600),
    vol.Required("preview_width", default=DEFAULT_PREVIEW_WIDTH): _number(32, 4096, int),
    vol.Required("motion", default=True): _bool,
    # Stream sources (rtsp://, v4l2:). Credentials belong in the environment file:
    # BOBBY_SOURCE_USERNAME / BOBBY_SOURCE_PASSWORD.
    vol.Optional("source_username"): vol.Any(None, str),
    vol.Optional("source_password"): vol.Any(None, str),
    vol.Required("rtsp_transport", default=DEFAULT_RTSP_TRANSPORT): vol.All(
        vol.Lower, vol.In(["tcp", "udp"])
    ),
    vol.Required("stream_timeout", default=DEFAULT_STREAM_TIMEOUT): _number(1.0, 120.0),
    vol.Optional("record_stream"): vol.Any(None, str),  # e.g. an IP camera's main stream
    # Recording (docs/protocol.md, "chunk"): pre-roll ring, events, chunks, spool.
    vol.Required("record", default=True): _bool,
    vol.Required("pre_roll", default=DEFAULT_PRE_ROLL): _number(0.0, 30.0),
    vol.Required("post_roll", default=DEFAULT_POST_ROLL): _number(0.0, 300.0),
    vol.Required("max_event", default=DEFAULT_MAX_EVENT): _number(10.0, 3600.0),
    vol.Required("chunk_seconds", default=DEFAULT_CHUNK_SECONDS): _number(2.0, MAX_CHUNK_SECONDS),
    vol.Optional("spool_dir"): vol.Any(None, vol.All(str, vol.Length(min=1))),  # default <state_dir>/spool
    vol.Required("spool_max_mb", default=DEFAULT_SPOOL_MAX_MB): _number(8, 1_000_000, int),
    vol.Required("chunk_resend", default=DEFAULT_CHUNK_RESEND): _number(1.0, 3600.0),
    vol.Required("record_encoder", default=DEFAULT_RECORD_ENCODER): vol.All(str, vol.Length(min=1)),
    # The picamera source records its own H.264 stream at this size and rate.
    vol.Required("record_width", default=DEFAULT_RECORD_WIDTH): _number(16, 8192, int),
    vol.Required("record_height", default=DEFAULT_RECORD_HEIGHT): _number(16, 8192, int),
    vol.Required("record_fps", default=DEFAULT_RECORD_FPS): _number(1.0, 60.0),
}

DETECTOR_SCHEMA: dict[Any, Any] = {
    **COMMON_SCHEMA,
    vol.Optional("model"): vol.Any(None, str),
    vol.Optional("labels"): vol.Any(None, _existing_file),
    vol.Required("person_class", default=DEFAULT_PERSON_CLASS): vol.Any(int, str),
    vol.Required("threads", default=DEFAULT_THREADS): _number(1, 64, int),
    vol.Required("workers", default=DEFAULT_WORKERS): _workers,
    vol.Required("tiles", default=False): _tiles,
    vol.Required("threshold", default=DEFAULT_THRESHOLD): _number(0.0, 1.0),
    vol.Required("min_area", default=DEFAULT_MIN_AREA): _number(0.0, 1.0),
    vol.Required("group", default=DEFAULT_DETECTOR_GROUP): vol.Any(
        None, vol.Match(r"^[A-Za-z0-9_-]{1,64}$", msg="a group name of A-Z a-z 0-9 _ -")
    ),
    vol.Required("max_payload", default=DEFAULT_MAX_PAYLOAD): _number(1024, 256 * 1024 * 1024, int),
    vol.Required("snapshot_interval", default=DEFAULT_SNAPSHOT_INTERVAL): _number(0.0, 3600),
}

SCHEMAS = {"camera": CAMERA_SCHEMA, "detector": DETECTOR_SCHEMA}


def _format_error(err: vol.Invalid) -> str:
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    lines = []
    for error in errors:
        where = ".".join(str(p) for p in error.path) or "config"
        msg = (
            "unknown option (check the spelling)"
            if error.error_message == "extra keys not allowed"
            else error.error_message
        )
        lines.append(f"{where}: {msg}")
    return "; ".join(lines)


def read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def from_environment(kind: str, environ: Mapping[str, str]) -> dict[str, str]:
    known = {str(key) for key in SCHEMAS[kind]}
    return {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and name[len(ENV_PREFIX) :].lower() in known
    }


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class AgentConfig:
    broker: Broker
    id: str
    state_dir: Path
    name: str | None = None
    base_topic: str = DEFAULT_BASE_TOPIC
    stats_interval: float = DEFAULT_STATS_INTERVAL
    enabled: bool = True
    log_level: str = DEFAULT_LOG_LEVEL

    def __repr__(self) -> str:
        # What `--validate-config` prints: secrets left out (repr=False) or masked (a source URL).
        shown = []
        for f in fields(self):
            if f.repr:
                value = getattr(self, f.name)
                if f.name in ("source", "record_stream") and isinstance(value, str):
                    value = redact_url(value)
                shown.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CameraConfig(AgentConfig):
    source: str = DEFAULT_SOURCE
    fps: float = DEFAULT_FPS
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    preview_interval: float = DEFAULT_PREVIEW_INTERVAL
    preview_width: int = DEFAULT_PREVIEW_WIDTH
    motion: bool = True  # send motion regions with each frame (camera/motion.py)
    source_username: str | None = None
    source_password: str | None = field(default=None, repr=False)  # never in logs
    rtsp_transport: str = DEFAULT_RTSP_TRANSPORT
    stream_timeout: float = DEFAULT_STREAM_TIMEOUT
    record_stream: str | None = None
    record: bool = True
    pre_roll: float = DEFAULT_PRE_ROLL
    post_roll: float = DEFAULT_POST_ROLL
    max_event: float = DEFAULT_MAX_EVENT
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    spool_dir: Path | None = None  # where chunks wait for the core's ack; None: <state_dir>/spool
    spool_max_mb: int = DEFAULT_SPOOL_MAX_MB
    chunk_resend: float = DEFAULT_CHUNK_RESEND
    record_encoder: str = DEFAULT_RECORD_ENCODER
    record_width: int = DEFAULT_RECORD_WIDTH
    record_height: int = DEFAULT_RECORD_HEIGHT
    record_fps: float = DEFAULT_RECORD_FPS


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class DetectorConfig(AgentConfig):
    model: str | None = None
    labels: str | None = None
    person_class: int | str = DEFAULT_PERSON_CLASS
    threads: int = DEFAULT_THREADS
    workers: int | str = DEFAULT_WORKERS
    tiles: bool | tuple[str, ...] = False  # frames without regions: tiles for all, none, or these cameras
    threshold: float = DEFAULT_THRESHOLD
    min_area: float = DEFAULT_MIN_AREA
    group: str | None = DEFAULT_DETECTOR_GROUP
    max_payload: int = DEFAULT_MAX_PAYLOAD
    snapshot_interval: float = DEFAULT_SNAPSHOT_INTERVAL


def _merge_and_validate(
    kind: str, flags: Mapping[str, Any], config_file: str | None, environ: Mapping[str, str] | None
) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    if config_file:
        merged.update(read_yaml(config_file))
    merged.update(from_environment(kind, environ))
    merged.update({k: v for k, v in flags.items() if v is not None})
    try:
        options: dict[str, Any] = vol.Schema(SCHEMAS[kind], extra=vol.PREVENT_EXTRA)(merged)
    except vol.Invalid as err:
        raise ConfigError(f"invalid {kind} configuration: {_format_error(err)}") from None
    host, port = options.pop("broker")
    options["broker"] = Broker(
        host,
        port,
        options.pop("username", None),
        options.pop("password", None),
        options.pop("tls_ca", None),
        options.pop("tls_cert", None),
        options.pop("tls_key", None),
    )
    if (options["broker"].tls_cert is None) != (options["broker"].tls_key is None):
        raise ConfigError(f"invalid {kind} configuration: tls_cert and tls_key go together (mutual TLS)")
    if options["broker"].tls_cert and not options["broker"].tls_ca:
        raise ConfigError(f"invalid {kind} configuration: tls_cert needs tls_ca (the broker's CA)")
    state_dir = options.pop("state_dir", None)
    options["state_dir"] = Path(state_dir).expanduser() if state_dir else default_state_dir(environ)
    if kind == "camera":
        spool_dir = options.pop("spool_dir", None)
        options["spool_dir"] = Path(spool_dir).expanduser() if spool_dir else options["state_dir"] / "spool"
    return options


def load_camera(
    flags: Mapping[str, Any], config_file: str | None = None, environ: Mapping[str, str] | None = None
) -> CameraConfig:
    return CameraConfig(**_merge_and_validate("camera", flags, config_file, environ))


def load_detector(
    flags: Mapping[str, Any], config_file: str | None = None, environ: Mapping[str, str] | None = None
) -> DetectorConfig:
    return DetectorConfig(**_merge_and_validate("detector", flags, config_file, environ))
