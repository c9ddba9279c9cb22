"""One validated configuration per agent, merged from YAML, environment and flags.

Precedence, lowest first: built-in defaults, the YAML file (`--config`), environment
variables (`BOBBY_<OPTION>`, e.g. `BOBBY_PASSWORD` — keep secrets out of the command
line), command-line flags. Every error names the option and what it accepts.

Each option is declared once, as a field of the dataclass that uses it (`options.py`):
its type, default, check, range, flag and help. The config classes here compose them:
their own fields, the broker's, and the frame sources' own groups (`group()`: the stream
sources' in `camera/sources/live.py` and `rtsp.py`). The voluptuous schema (`schema_of`),
the environment names and the command line (`cli.add_options`) are built from them.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from .camera.sources.live import StreamOptions
from .camera.sources.rtsp import RtspOptions
from .errors import ConfigError
from .options import (
    GROUP,
    OPTION,
    OPTIONAL_DIR,
    OPTIONAL_FILE,
    UNSET,
    Option,
    boolean,
    group,
    number,
    option,
    secret,
)
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
DEFAULT_LIVE_MAX_FPS = 15.0  # bobby-home's live view went up to 15 a second
DEFAULT_PERSON_CLASS = "person"
DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_AREA = 0.0
DEFAULT_SNAPSHOT_INTERVAL = 2.0
# Tamper checks (camera/tamper.py): seconds a problem must last before it is reported (a
# person walking past close to the lens covers part of it for a few seconds), and seconds
# of good pictures before it ends.
DEFAULT_TAMPER_HOLD = 6.0
DEFAULT_TAMPER_CLEAR = 3.0
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
            return boolean(value)
        except vol.Invalid:
            value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple) and value:
        return tuple(_agent_id(v) for v in value)
    raise vol.Invalid("expected true, false, or camera ids (a list, or a,b) whose frames are tiled")


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    username: str | None = option(None, check=vol.Any(None, str), help="broker user name")
    password: str | None = secret(help="broker password (prefer BOBBY_PASSWORD in the environment)")
    tls_ca: str | None = option(
        None, check=OPTIONAL_FILE, metavar="FILE", help="CA certificate: connect with TLS"
    )
    # The client certificate (mutual TLS), with tls_key.
    tls_cert: str | None = option(
        None, check=OPTIONAL_FILE, metavar="FILE", help="client certificate (mutual TLS)"
    )
    tls_key: str | None = option(None, check=OPTIONAL_FILE, metavar="FILE", help="private key of --tls-cert")

    @property
    def url(self) -> str:
        return f"{self.host}:{self.port}"


def _own_options(cls: type) -> list[tuple[dataclasses.Field[Any], Option]]:
    return [(f, f.metadata[OPTION]) for f in fields(cls) if OPTION in f.metadata]


def options_of(cls: type) -> list[tuple[dataclasses.Field[Any], Option]]:
    """A config class's options in the order of the command line's help: the broker's after
    `broker`, a group's where the group stands."""
    found: list[tuple[dataclasses.Field[Any], Option]] = []
    for f in fields(cls):
        if OPTION in f.metadata:
            found.append((f, f.metadata[OPTION]))
        if f.name == "broker":
            found.extend(_own_options(Broker))
        if GROUP in f.metadata:
            found.extend(_own_options(f.metadata[GROUP]))
    return found


def default_of(f: dataclasses.Field[Any], how: Option) -> Any:
    """The option's default as the schema applies it (MISSING or None: the option is optional)."""
    return f.default if how.schema_default is UNSET else how.schema_default


def schema_of(cls: type) -> dict[Any, Any]:
    """The voluptuous schema of a config class, built from its options."""
    schema: dict[Any, Any] = {}
    for f, how in options_of(cls):
        default = default_of(f, how)
        if default is dataclasses.MISSING or default is None:
            schema[vol.Optional(f.name)] = how.check
        else:
            schema[vol.Required(f.name, default=default)] = how.check
    return schema


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
    broker: Broker = option(  # noqa: RUF009 - option() is a dataclasses.field
        schema_default=DEFAULT_BROKER,
        check=vol.All(str, parse_broker),
        metavar="HOST[:PORT]",
        help="MQTT broker (default {default})",
    )
    id: str = option(
        schema_default=socket.gethostname().split(".")[0],
        check=_agent_id,
        help="agent id, unique per kind (default: the host name)",
    )
    state_dir: Path = option(  # noqa: RUF009 - option() is a dataclasses.field
        check=OPTIONAL_DIR,
        metavar="DIR",
        help="where the last commanded state is kept "
        "(default: $STATE_DIRECTORY, else ~/.local/state/bobby-camera)",
    )
    name: str | None = option(None, check=_name, help="friendly name shown in Home Assistant")
    base_topic: str = option(DEFAULT_BASE_TOPIC, check=_base_topic, help="topic prefix (default {default})")
    stats_interval: float = number(
        DEFAULT_STATS_INTERVAL, 0.5, 3600, metavar="S", help="heartbeat period (default {default})"
    )
    enabled: bool = option(True, check=boolean, flag="--disabled", const=False, help="start switched off")
    log_level: str = option(
        DEFAULT_LOG_LEVEL,
        check=vol.All(vol.Upper, vol.In(["DEBUG", "INFO", "WARNING", "ERROR"])),
        help="DEBUG, INFO, WARNING or ERROR",
    )

    def __repr__(self) -> str:
        # What `--validate-config` prints: secrets left out (repr=False) or masked (a source URL).
        shown = []
        for f in fields(self):
            if f.repr:
                value = getattr(self, f.name)
                if f.name == "source" and isinstance(value, str):
                    value = redact_url(value)
                shown.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CameraConfig(AgentConfig):
    source: str = option(
        DEFAULT_SOURCE,
        check=str,
        help="picamera | images:DIR | video:FILE | http:URL | rtsp://HOST/PATH | rtsps://... | "
        "v4l2:/dev/videoN (default {default}); camera passwords go in "
        "BOBBY_SOURCE_USERNAME and BOBBY_SOURCE_PASSWORD, not here",
    )
    fps: float = number(DEFAULT_FPS, *FPS_RANGE, help="frames per second ({range}, default {default})")
    width: int = number(DEFAULT_WIDTH, 16, 8192, int, help="frame width (default {default})")
    height: int = number(DEFAULT_HEIGHT, 16, 8192, int, help="frame height (default {default})")
    jpeg_quality: int = number(DEFAULT_JPEG_QUALITY, 1, 100, int, help="{range} (default {default})")
    preview_interval: float = number(
        DEFAULT_PREVIEW_INTERVAL, 0.5, 3600, metavar="S", help="preview period (default {default})"
    )
    preview_width: int = number(DEFAULT_PREVIEW_WIDTH, 32, 4096, int)
    # Live view (docs/protocol.md, "Live view"): the most a viewer's lease may ask for.
    live_max_fps: float = number(
        DEFAULT_LIVE_MAX_FPS,
        *FPS_RANGE,
        help="highest live-view rate a viewer may get ({range}, default {default}); "
        "frames to detectors stay at --fps",
    )
    # Motion regions with each frame (camera/motion.py).
    motion: bool = option(
        True,
        check=boolean,
        flag="--no-motion",
        const=False,
        help="send frames without motion regions (the detector then looks at whole frames or tiles)",
    )
    # Tamper checks on the same grey copy (camera/tamper.py): covered, defocused, turned_away.
    tamper: bool = option(
        True,
        check=boolean,
        flag="--no-tamper",
        const=False,
        help="do not check whether the camera is covered, out of focus or turned away",
    )
    tamper_hold: float = number(
        DEFAULT_TAMPER_HOLD,
        1.0,
        600.0,
        metavar="S",
        help="seconds a covered, blurred or moved picture must last before it is reported "
        "({range}, default {default})",
    )
    tamper_clear: float = number(
        DEFAULT_TAMPER_CLEAR,
        0.5,
        600.0,
        metavar="S",
        help="seconds of good pictures before a tamper problem ends (default {default})",
    )
    # The stream sources' own options (rtsp://, v4l2:), declared by the sources.
    stream: StreamOptions = group(StreamOptions)  # noqa: RUF009 - group() is a dataclasses.field
    rtsp: RtspOptions = group(RtspOptions)  # noqa: RUF009 - group() is a dataclasses.field
    # Recording (docs/protocol.md, "chunk"): pre-roll ring, events, chunks, spool.
    record: bool = option(True, check=boolean, flag="--no-record", const=False, help="do not record events")
    pre_roll: float = number(
        DEFAULT_PRE_ROLL,
        0.0,
        30.0,
        metavar="S",
        help="video kept before a detection ({range}, default {default})",
    )
    post_roll: float = number(
        DEFAULT_POST_ROLL,
        0.0,
        300.0,
        metavar="S",
        help="recording after the last detection (default {default})",
    )
    max_event: float = number(
        DEFAULT_MAX_EVENT,
        10.0,
        3600.0,
        metavar="S",
        help="longest event before a new one (default {default})",
    )
    chunk_seconds: float = number(
        DEFAULT_CHUNK_SECONDS,
        2.0,
        MAX_CHUNK_SECONDS,
        metavar="S",
        help="chunk length ({range}, default {default})",
    )
    # Where chunks wait for the core's ack; None: <state_dir>/spool.
    spool_dir: Path | None = option(  # noqa: RUF009 - option() is a dataclasses.field
        None,
        check=OPTIONAL_DIR,
        metavar="DIR",
        help="where chunks wait for the core's acknowledgement (default <state dir>/spool)",
    )
    spool_max_mb: int = number(
        DEFAULT_SPOOL_MAX_MB, 8, 1_000_000, int, metavar="MB", help="spool size limit (default {default})"
    )
    chunk_resend: float = number(
        DEFAULT_CHUNK_RESEND,
        1.0,
        3600.0,
        metavar="S",
        help="resend unacknowledged chunks after (default {default})",
    )
    record_encoder: str = option(
        DEFAULT_RECORD_ENCODER,
        check=vol.All(str, vol.Length(min=1)),
        help="PyAV H.264 encoder for frame sources (default {default})",
    )
    # The picamera source records its own H.264 stream at this size and rate.
    record_width: int = number(
        DEFAULT_RECORD_WIDTH, 16, 8192, int, help="picamera recording width (default {default})"
    )
    record_height: int = number(
        DEFAULT_RECORD_HEIGHT, 16, 8192, int, help="picamera recording height (default {default})"
    )
    record_fps: float = number(
        DEFAULT_RECORD_FPS, 1.0, 60.0, help="picamera recording rate (default {default})"
    )


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class DetectorConfig(AgentConfig):
    model: str | None = option(
        None,
        check=vol.Any(None, str),
        metavar="PATH",
        help="a .tflite model (default: the fetched DeepLab v3)",
    )
    labels: str | None = option(
        None,
        check=OPTIONAL_FILE,
        metavar="FILE",
        help="labels file for detection models (one label per line)",
    )
    person_class: int | str = option(
        DEFAULT_PERSON_CLASS, check=vol.Any(int, str), help="person label or class index (default {default})"
    )
    threads: int = number(DEFAULT_THREADS, 1, 64, int, help="LiteRT threads per worker (default {default})")
    workers: int | str = option(
        DEFAULT_WORKERS,
        check=_workers,
        help="analysis threads, each with its own model: a number or auto = one per "
        f"{DEFAULT_THREADS}-thread share of the cores (default {{default}})",
    )
    # Frames without regions: tiles for all, none, or these cameras.
    tiles: bool | tuple[str, ...] = option(
        False,
        check=_tiles,
        metavar="true|false|CAM,CAM",
        help="frames without motion regions (ESP32-CAM): also analyse overlapping tiles, for all "
        "cameras or the ones named (default false)",
    )
    threshold: float = number(
        DEFAULT_THRESHOLD, 0.0, 1.0, help="minimum person score {range} (default {default})"
    )
    min_area: float = number(
        DEFAULT_MIN_AREA, 0.0, 1.0, help="minimum box area as a fraction (default {default})"
    )
    group: str | None = option(
        DEFAULT_DETECTOR_GROUP,
        check=vol.Any(None, vol.Match(r"^[A-Za-z0-9_-]{1,64}$", msg="a group name of A-Z a-z 0-9 _ -")),
        help="shared-subscription group (default {default}; '' to not share)",
    )
    max_payload: int = number(
        DEFAULT_MAX_PAYLOAD,
        1024,
        256 * 1024 * 1024,
        int,
        metavar="BYTES",
        help="largest frame accepted (default {default})",
    )
    snapshot_interval: float = number(
        DEFAULT_SNAPSHOT_INTERVAL,
        0.0,
        3600,
        metavar="S",
        help="minimum seconds between snapshots per camera (default {default})",
    )


SCHEMAS = {"camera": schema_of(CameraConfig), "detector": schema_of(DetectorConfig)}


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
    credentials = {f.name: options.pop(f.name, None) for f, _ in _own_options(Broker)}
    options["broker"] = Broker(host, port, **credentials)
    if (options["broker"].tls_cert is None) != (options["broker"].tls_key is None):
        raise ConfigError(f"invalid {kind} configuration: tls_cert and tls_key go together (mutual TLS)")
    if options["broker"].tls_cert and not options["broker"].tls_ca:
        raise ConfigError(f"invalid {kind} configuration: tls_cert needs tls_ca (the broker's CA)")
    state_dir = options.pop("state_dir", None)
    options["state_dir"] = Path(state_dir).expanduser() if state_dir else default_state_dir(environ)
    config_class = CameraConfig if kind == "camera" else DetectorConfig
    for f in fields(config_class):
        if GROUP in f.metadata:
            own = {
                g.name: options.pop(g.name) for g, _ in _own_options(f.metadata[GROUP]) if g.name in options
            }
            options[f.name] = f.metadata[GROUP](**own)
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
