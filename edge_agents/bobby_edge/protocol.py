"""The MQTT contract of docs/protocol.md: topics, typed payloads, and building and checking them.

THE one source of the contract in code. The agents import it from here; the integration
carries an exact copy (custom_components/bobby_camera/protocol.py, written by
`scripts/sync-protocol`) because HACS installs only custom_components/. Stdlib only, so
the copy runs inside Home Assistant without the agents' dependencies.

Every check raises `ProtocolError` and nothing else, whatever the bytes: a message from
the bus is hostile until this module says otherwise.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NotRequired, TypedDict, cast

SCHEMA_VERSION: Final = 1
DEFAULT_BASE_TOPIC: Final = "bobby"
DEFAULT_DETECTOR_GROUP: Final = "bobby-detectors"

# --- limits (docs/protocol.md, "JSON payloads" and "JPEG payloads") ------------------------
MAX_JSON_BYTES: Final = 64 * 1024  # counted in bytes of the UTF-8 payload, before parsing
MAX_NESTING: Final = 16  # arrays and objects inside each other; checked before parsing
MAX_INTEGER: Final = 2**53 - 1  # the integers every JSON reader represents exactly
MAX_STRING_LENGTH: Final = 1024  # characters of any string, keys included
MAX_TEXT_LENGTH: Final = 256  # characters of a name, version, host name, model or capability
MAX_LIST_LENGTH: Final = 64  # items of a list the contract defines (boxes, capabilities)
MAX_BASE_TOPIC_LENGTH: Final = 128
MAX_JPEG_BYTES: Final = 8 * 1024 * 1024
MAX_JPEG_SIDE: Final = 16384
MAX_JPEG_PIXELS: Final = 50_000_000  # 50 MP: decoding more takes seconds and hundreds of MB
# Recording chunks (docs/protocol.md, "chunk"): a header line of JSON, b"\n", then the video.
MAX_CHUNK_BYTES: Final = 8 * 1024 * 1024  # the whole payload; the agent cuts chunks well below it
# Where an agent cuts a chunk at the latest: under Mosquitto 2.1's default max_packet_size
# (2,000,000 bytes), which disconnects a client that publishes a larger packet.
CHUNK_TARGET_BYTES: Final = 1_800_000
MAX_CHUNK_HEADER_BYTES: Final = 4096
MAX_CHUNK_SECONDS: Final = 10.0  # a chunk's video, at most (cut at keyframes: a header allows +1 s)
MAX_CHUNK_SEQ: Final = 999_999
CHUNK_FORMATS: Final = ("mpegts",)
EVENT_REASONS: Final = ("detection", "command")
RECORD_SECONDS_RANGE: Final = (1.0, 3600.0)  # `set` with action `record`: how long

KIND_CAMERA: Final = "camera"
KIND_DETECTOR: Final = "detector"
KINDS: Final = (KIND_CAMERA, KIND_DETECTOR)

ONLINE: Final = "online"
OFFLINE: Final = "offline"

JSON_CHANNELS: Final = frozenset(
    {"info", "state", "set", "ack", "stats", "detection", "chunk_ack", "selftest_result"}
)
BINARY_CHANNELS: Final = frozenset({"frame", "snapshot", "preview", "live"})  # JPEG
CHUNK_CHANNEL: Final = "chunk"  # a JSON header line, then MPEG-TS video: see encode_chunk
CAMERA_ONLY_CHANNELS: Final = frozenset(
    {"frame", "snapshot", "preview", "detection", "chunk", "chunk_ack", "live"}
)
# The detector self-test (docs/protocol.md, "selftest"): the core sends one detector a known
# picture (a JSON header line, then a JPEG) and the detector answers with what it found.
SELFTEST_CHANNEL: Final = "selftest"
SELFTEST_RESULT_CHANNEL: Final = "selftest_result"
DETECTOR_ONLY_CHANNELS: Final = frozenset({SELFTEST_CHANNEL, SELFTEST_RESULT_CHANNEL})
CHANNELS: Final = (
    frozenset({"status", CHUNK_CHANNEL}) | JSON_CHANNELS | BINARY_CHANNELS | DETECTOR_ONLY_CHANNELS
)
# The info capability of a detector that answers self-tests (the core tests only those).
SELFTEST_CAPABILITY: Final = "selftest"
MAX_SELFTEST_BYTES: Final = 1024 * 1024  # the whole payload; the core sends ~20-40 KB
MAX_SELFTEST_HEADER_BYTES: Final = 1024

# MQTT v5 user property a camera agent adds to each frame (Unix time, decimal string).
FRAME_TIME_PROPERTY: Final = "frame_time"
# MQTT v5 user property with the frame's regions of interest (motion), a JSON list of
# [xmin, ymin, xmax, ymax] boxes normalised 0..1; see parse_regions and docs/protocol.md.
REGIONS_PROPERTY: Final = "regions"
MAX_REGIONS: Final = 16  # more are capped: each region costs the detector a model run
MAX_REGIONS_BYTES: Final = 32 * 1024  # a longer property is ignored unparsed

Coords = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax, normalised 0..1

# What the owner sets per camera in Home Assistant (docs/protocol.md, "Masks and objects"):
# the camera agent keeps it (`set`, `state`) and sends it with every frame as these MQTT
# v5 user properties, so any detector applies it without keeping per-camera state.
MASKS_PROPERTY: Final = "masks"  # JSON list of polygons: areas where nothing is reported
OBJECTS_PROPERTY: Final = "objects"  # JSON list of labels: which objects count
# The labels a camera may pick: the Pascal VOC classes of the default model (DeepLab v3)
# that matter at a door or a drive. `motorbike` is VOC's word (COCO models say motorcycle).
PERSON: Final = "person"
OBJECT_LABELS: Final = (
    PERSON,
    "car",
    "bicycle",
    "motorbike",
    "bus",
    "dog",
    "cat",
    "bird",
    "horse",
    "sheep",
    "cow",
)
DEFAULT_OBJECTS: Final = (PERSON,)
MAX_MASKS: Final = 16  # polygons per camera (zones in Home Assistant: the same limit)
MAX_POLYGON_POINTS: Final = 32
# A box lies "mostly inside" the masks when at least this share of its area is masked.
MASKED_SHARE: Final = 0.5
LABEL_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")  # a detection box's `label`
MAX_MASKS_BYTES: Final = 16 * 1024  # a longer property is ignored unparsed

Point = tuple[float, float]  # x, y, normalised 0..1
Polygon = tuple[Point, ...]

# QoS and retain per channel, as the table in docs/protocol.md gives them.
QOS: Final = {
    "status": 1,
    "info": 1,
    "state": 1,
    "set": 1,
    "ack": 1,
    "stats": 0,
    "frame": 0,
    "detection": 1,
    "snapshot": 0,
    "preview": 0,
    "chunk": 1,
    "chunk_ack": 1,
    "live": 0,
    SELFTEST_CHANNEL: 1,
    SELFTEST_RESULT_CHANNEL: 1,
}
RETAINED: Final = frozenset({"status", "info", "state", "snapshot", "preview"})

SETTINGS_BY_KIND: Final = {KIND_CAMERA: ("fps", "masks", "objects"), KIND_DETECTOR: ("threshold", "min_area")}
ACTIONS_BY_KIND: Final = {KIND_CAMERA: ("preview", "record"), KIND_DETECTOR: ()}
FPS_RANGE: Final = (0.1, 30.0)
STREAM_FPS_RANGE: Final = (0.01, 1000.0)  # a camera stream's own rate (info `stream_fps`)
# Live view (docs/protocol.md, "Live view"): a `set` with `live` (a rate, 0 ends it) and
# `lease` (seconds) asks a camera with the `live` capability for JPEGs on its `live`
# topic; the camera ends the lease by itself when it is not renewed in time.
LIVE: Final = "live"
LIVE_FPS_RANGE: Final = FPS_RANGE  # `live` in a command (0 also: end the lease) and in `state`
LEASE_RANGE: Final = (1.0, 300.0)  # `lease`, seconds
# The stats problem a camera raises while its source gives no frames (docs/protocol.md).
SOURCE_UNAVAILABLE: Final = "source_unavailable"
# The stats problems of a camera's tamper checks (docs/protocol.md): it no longer sees the scene.
COVERED: Final = "covered"  # very dark or very bright, almost no texture
DEFOCUSED: Final = "defocused"  # sharpness far below its running baseline
TURNED_AWAY: Final = "turned_away"  # the scene no longer matches the reference view
TAMPER_PROBLEMS: Final = (COVERED, DEFOCUSED, TURNED_AWAY)
# What an agent keeps on disk and restores on start: `enabled` and its settings.
PERSISTED_BY_KIND: Final = {kind: ("enabled", *settings) for kind, settings in SETTINGS_BY_KIND.items()}

# Why an ack says `ok: false` (its `code`; `error` says it in words).
ACK_STALE: Final = "stale"  # the command's `expires` had passed when it arrived: not applied
ACK_INVALID: Final = "invalid"  # not a valid command (JSON, schema, ranges)
ACK_REFUSED: Final = "refused"  # valid, but this agent cannot apply it now (e.g. fps over the source's)
ACK_CODES: Final = (ACK_STALE, ACK_INVALID, ACK_REFUSED)
# The capability an agent announces in `info` when it takes `expires` on a command: an
# older agent refuses the unknown key, so a sender adds it only for agents that list it.
EXPIRES: Final = "expires"

# A problem an agent reports in its stats (`problems`): a stable code HA can key on.
PROBLEM_CODE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_PROBLEMS: Final = 32
# A detector's stats name at most this many cameras (`cameras`: what it analysed of each in
# the interval); the others are counted in `cameras_omitted`. 128 entries stay under 20 KB.
MAX_STATS_CAMERAS: Final = 128

ID_RULE: Final = "1-64 characters of A-Z a-z 0-9 _ -"
BASE_TOPIC_RULE: Final = (
    f"1-{MAX_BASE_TOPIC_LENGTH} characters in levels separated by single '/', "
    "without '+', '#', a leading '$' or control characters (e.g. bobby or home/bobby)"
)
_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_NOT_IN_BASE_TOPIC_RE: Final = re.compile("[+#\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Nesting is measured on the raw bytes: escapes out, then only quotes and brackets kept.
_STRUCTURE_ONLY: Final = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'"[]{}')
_MAX_INTEGER_DIGITS: Final = len(str(MAX_INTEGER))
# Frame headers (SOF0-SOF15) are C0-CF but for DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_MAX_SEGMENTS: Final = 128  # a camera's JPEG has about ten before its frame header


class ProtocolError(ValueError):
    """A message that does not follow docs/protocol.md; the text says what is wrong."""


class PolygonError(ProtocolError):
    """A polygon (mask or zone) that is not one; `reason` is a stable code for translations."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # shape, points, range, area, self_intersecting


# --- typed payloads ----------------------------------------------------------------------


class InfoPayload(TypedDict):
    """`info`: who the agent is (retained)."""

    v: int
    kind: str
    id: str
    version: str
    stats_interval: float
    name: NotRequired[str]
    hostname: NotRequired[str]
    model: NotRequired[str]
    resolution: NotRequired[list[int]]
    capabilities: NotRequired[list[str]]
    source: NotRequired[str]  # camera: picamera, images, video, http, rtsp, rtsps, v4l2
    stream_codec: NotRequired[str]  # camera with a video stream: h264, hevc, mjpeg, ...
    stream_resolution: NotRequired[list[int]]
    stream_fps: NotRequired[float]
    stream_url: NotRequired[str]  # camera with an RTSP stream: its URL without credentials


class StatePayload(TypedDict):
    """`state`, and the `state` of a successful ack: what the agent applies."""

    v: int
    enabled: bool
    fps: NotRequired[float]
    masks: NotRequired[list[list[list[float]]]]  # cameras: polygons of [x, y] points
    objects: NotRequired[list[str]]  # cameras: labels that count
    threshold: NotRequired[float]
    min_area: NotRequired[float]
    live: NotRequired[float]  # camera: the live rate while a lease runs (absent otherwise)


class CommandPayload(TypedDict):
    """`set`: a command, all of it applied or none."""

    v: int
    id: str
    enabled: NotRequired[bool]
    fps: NotRequired[float]
    masks: NotRequired[list[list[list[float]]]]
    objects: NotRequired[list[str]]
    threshold: NotRequired[float]
    min_area: NotRequired[float]
    action: NotRequired[str]
    duration: NotRequired[float]  # seconds, with action `record` only
    live: NotRequired[float]  # camera: live frames per second (0: end the lease now)
    lease: NotRequired[float]  # seconds the live rate holds unless renewed (with `live` > 0)
    expires: NotRequired[float]


class AckPayload(TypedDict):
    """`ack`: the answer to one command."""

    v: int
    id: str | None
    ok: bool
    state: NotRequired[StatePayload]
    error: NotRequired[str]
    code: NotRequired[str]


class Problem(TypedDict):
    """One entry of a stats `problems` list: something the agent cannot fix by itself."""

    code: str
    count: int
    topic: NotRequired[str]
    detail: NotRequired[str]


class CameraReport(TypedDict):
    """One camera in a detector's stats `cameras`: its frames that reached this detector in the interval."""

    analysed: int  # run through the model (a result was published where a person was found)
    dropped: int  # replaced by a newer frame of the same camera before analysis (latest wins)
    last_frame_time: NotRequired[float | None]  # newest analysed frame's `frame_time`; null: none


class StatsPayload(TypedDict):
    """`stats`: counters and rates; its arrival is the heartbeat."""

    v: int
    uptime: float
    fps: float
    frames_sent: NotRequired[int]
    capture_errors: NotRequired[int]
    fps_target: NotRequired[float]
    capture_slow: NotRequired[bool]
    frames_received: NotRequired[int]
    frames_analysed: NotRequired[int]
    frames_dropped: NotRequired[int]
    frames_invalid: NotRequired[int]
    inference_ms_p50: NotRequired[float | None]
    inference_ms_p95: NotRequired[float | None]
    queue_age_ms: NotRequired[float | None]
    cpu_temperature: NotRequired[float | None]
    capture_ms: NotRequired[float | None]
    motion_ms: NotRequired[float | None]
    frame_ms_p50: NotRequired[float | None]
    frame_ms_p95: NotRequired[float | None]
    regions_per_frame: NotRequired[float | None]
    tiles_per_frame: NotRequired[float | None]
    workers: NotRequired[int]
    load: NotRequired[float | None]
    capacity_fps: NotRequired[float | None]
    source_reconnects: NotRequired[int]
    problems: NotRequired[list[Problem]]
    recording: NotRequired[bool]
    events_recorded: NotRequired[int]
    chunks_spooled: NotRequired[int]
    chunks_sent: NotRequired[int]
    chunks_acked: NotRequired[int]
    chunks_unacked: NotRequired[int]
    spool_bytes: NotRequired[int]
    events_dropped: NotRequired[int]
    chunks_dropped: NotRequired[int]
    record_frames_dropped: NotRequired[int]
    cameras: NotRequired[dict[str, CameraReport]]
    cameras_omitted: NotRequired[int]
    selftests: NotRequired[int]
    selftests_invalid: NotRequired[int]


RECORDING_COUNTERS: Final = (
    "events_recorded",
    "chunks_spooled",
    "chunks_sent",
    "chunks_acked",
    "chunks_unacked",
    "spool_bytes",
    "events_dropped",
    "chunks_dropped",
    "record_frames_dropped",
)


class ChunkHeader(TypedDict):
    """The header line of a `chunk`: which event, which piece of it, how long."""

    v: int
    camera: str
    event: str
    seq: int
    start: float
    duration: float
    last: bool
    format: str
    bytes: int
    event_start: NotRequired[float]
    reason: NotRequired[str]
    token: NotRequired[str]  # random per chunk; the core's chunk_ack echoes it (docs/protocol.md)


class ChunkAckPayload(TypedDict):
    """`chunk_ack`: the core has stored a chunk (or, `ok: false`, refuses it for good)."""

    v: int
    event: str
    seq: int
    ok: NotRequired[bool]
    error: NotRequired[str]
    token: NotRequired[str]  # the chunk header's token: only a reader of the chunk can ack it


class Box(TypedDict):
    """One object in a detection: score, [xmin, ymin, xmax, ymax] within 0-1, and its label."""

    score: float
    box: list[float]
    label: NotRequired[str]  # absent (older detectors): person


class DetectionPayload(TypedDict):
    """`detection`: a person in a camera's frame."""

    v: int
    camera: str
    detector: str
    frame_time: float
    detection_time: float
    score: float
    person_count: NotRequired[int]
    boxes: list[Box]
    inference_ms: float
    snapshot: NotRequired[bool]


class SelfTestHeader(TypedDict):
    """The header line of a `selftest`: the request id the answer echoes."""

    v: int
    id: str


class SelfTestResult(TypedDict):
    """`selftest_result`: the people a detector found in a self-test picture (or why it could not look)."""

    v: int
    id: str
    ok: bool
    boxes: NotRequired[list[Box]]  # with ok: what it would report for a camera frame, best first
    person_count: NotRequired[int]
    inference_ms: NotRequired[float]
    frame_ms: NotRequired[float]
    error: NotRequired[str]  # without ok: why, in words


# --- ids and topics ----------------------------------------------------------------------


def is_valid_agent_id(value: object) -> bool:
    """Whether this is a camera or detector id (ID_RULE, the whole string)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def validate_agent_id(value: object) -> str:
    """The id itself, or ProtocolError."""
    if not is_valid_agent_id(value):
        raise ProtocolError(f"id {_show(value)} is not valid: use {ID_RULE}")
    return cast(str, value)


def is_valid_request_id(value: object) -> bool:
    """Whether this is a command's request id: the same rule as agent ids."""
    return is_valid_agent_id(value)


def is_valid_event_id(value: object) -> bool:
    """Whether this is a recording event id: the same rule as agent ids (a folder name on the core)."""
    return is_valid_agent_id(value)


def is_valid_text(value: object) -> bool:
    """Whether this can be a name, version, host name, model or capability."""
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT_LENGTH and not _CONTROL_RE.search(value)


def is_valid_base_topic(value: object) -> bool:
    """Whether agents and Home Assistant can share this base topic (BASE_TOPIC_RULE)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_BASE_TOPIC_LENGTH
        and not value.startswith("$")  # $-topics belong to the broker ($SYS, $share)
        and _NOT_IN_BASE_TOPIC_RE.search(value) is None
        and all(value.split("/"))
    )


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed `<base>/<kind>/<id>/<channel>` topic."""

    base: str
    kind: str
    agent_id: str
    channel: str

    def __str__(self) -> str:
        return build_topic(self.base, self.kind, self.agent_id, self.channel)


def build_topic(base: str, kind: str, agent_id: str, channel: str) -> str:
    """The topic of one channel of one camera or detector."""
    return f"{base}/{kind}/{agent_id}/{channel}"


def frame_subscription(base: str, group: str | None) -> str:
    """The frame filter a detector subscribes to, shared when a group is given."""
    filter_ = f"{base}/camera/+/frame"
    return f"$share/{group}/{filter_}" if group else filter_


def parse_topic(full_topic: str, base: str | None = None) -> Topic:
    """Split and check a topic; `base`, when given, must match."""
    if not isinstance(full_topic, str):
        raise ProtocolError(f"topic {_show(full_topic)} is not text")
    parts = full_topic.rsplit("/", 3)
    if len(parts) != 4:
        raise ProtocolError(f"topic {_show(full_topic)} is not <base>/<kind>/<id>/<channel>")
    topic_base, kind, agent_id, channel = parts
    if base is not None and topic_base != base:
        raise ProtocolError(f"topic {_show(full_topic)} is not under the base topic {base!r}")
    if not is_valid_base_topic(topic_base):
        raise ProtocolError(f"topic {_show(full_topic)}: base topic must be {BASE_TOPIC_RULE}")
    if kind not in KINDS:
        raise ProtocolError(f"topic {_show(full_topic)}: kind {_show(kind)} is not camera or detector")
    if not is_valid_agent_id(agent_id):
        raise ProtocolError(f"topic {_show(full_topic)}: id {_show(agent_id)} is not {ID_RULE}")
    if channel not in CHANNELS:
        raise ProtocolError(f"topic {_show(full_topic)}: unknown channel {_show(channel)}")
    if channel in CAMERA_ONLY_CHANNELS and kind != KIND_CAMERA:
        raise ProtocolError(f"topic {_show(full_topic)}: {channel} exists only for cameras")
    if channel in DETECTOR_ONLY_CHANNELS and kind != KIND_DETECTOR:
        raise ProtocolError(f"topic {_show(full_topic)}: {channel} exists only for detectors")
    return Topic(topic_base, kind, agent_id, channel)


# --- raw payloads ------------------------------------------------------------------------


def _clip(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:37]}..."


def _show(value: object) -> str:
    """A short repr for error messages: never the whole of a hostile value, no control characters."""
    return _clip(repr(value))


def _as_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    if isinstance(payload, str):
        try:
            return payload.encode()
        except UnicodeEncodeError:
            raise ProtocolError("payload is not UTF-8 text (it holds a lone surrogate)") from None
    raise ProtocolError(f"payload must be bytes or text, got {type(payload).__name__}")


def _check_nesting(raw: bytes) -> None:
    """Reject arrays and objects nested deeper than MAX_NESTING before json.loads recurses."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
        return  # the usual case: too few brackets to nest that deep
    # `\\` first, so the quote in `\\"` still closes its string.
    structure = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_STRUCTURE_ONLY, _NOT_STRUCTURE)
    depth, in_string = 0, False
    for byte in structure:
        if byte == 0x22:  # "
            in_string = not in_string
        elif in_string:
            continue
        elif byte == 0x5B:  # [ or {
            depth += 1
            if depth > MAX_NESTING:
                raise ProtocolError(f"payload nests arrays or objects deeper than {MAX_NESTING} levels")
        else:
            depth -= 1


def _parse_int(text: str) -> int:
    # The length first: int() of thousands of digits is slow, and refused past 4300 digits.
    value = int(text) if len(text.lstrip("-")) <= _MAX_INTEGER_DIGITS else None
    if value is None or abs(value) > MAX_INTEGER:
        raise ProtocolError(f"integer of {len(text)} characters is outside ±{MAX_INTEGER}")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError(f"number {_show(text)} is too large")
    return value


def _reject_constant(name: str) -> float:
    raise ProtocolError(f"{name} is not a number: JSON payloads hold finite numbers only")


def _check_strings(data: object) -> None:
    """Every string, keys included, is bounded and encodable as UTF-8 (no lone surrogates)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            if len(node) > MAX_STRING_LENGTH:
                raise ProtocolError(f"a string of {len(node)} characters is over {MAX_STRING_LENGTH}")
            if _SURROGATE_RE.search(node):
                raise ProtocolError(f"string {_show(node)} holds a lone surrogate")


def decode_json(payload: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """Decode a JSON object payload and check its size, shape and schema version."""
    raw = _as_bytes(payload)
    if len(raw) > MAX_JSON_BYTES:
        raise ProtocolError(f"payload of {len(raw)} bytes is over the {MAX_JSON_BYTES}-byte limit")
    try:
        text = raw.decode()
    except UnicodeDecodeError as err:
        raise ProtocolError(f"payload is not UTF-8 (byte {err.start})") from None
    _check_nesting(raw)
    try:
        data = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
        )
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"payload is not valid JSON: {err}") from None
    _check_strings(data)
    if not isinstance(data, dict):
        raise ProtocolError("payload must be a JSON object")
    version = data.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProtocolError("payload has no integer schema version 'v'")
    if not 1 <= version <= SCHEMA_VERSION:
        raise ProtocolError(f"schema version {version} is not supported (this side speaks {SCHEMA_VERSION})")
    return data


# --- field checks: each copies the keys it knows into `out` ------------------------------

_Check = Callable[[Any], bool]


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_INTEGER
    return isinstance(value, float) and math.isfinite(value)


def _number(lo: float | None = None, hi: float | None = None, *, nullable: bool = False) -> _Check:
    def check(value: Any) -> bool:
        if value is None:
            return nullable
        return _is_number(value) and (lo is None or value >= lo) and (hi is None or value <= hi)

    return check


def _range(lo: float | None = None, hi: float | None = None) -> str:
    if hi is None:
        return "a number" if lo is None else f"a number ≥ {lo}"
    return f"between {lo} and {hi}"


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_counter(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INTEGER


def _is_error(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_STRING_LENGTH and not _CONTROL_RE.search(value)


def _is_resolution(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_counter(side) and 0 < side <= MAX_JPEG_SIDE for side in value)
    )


def _is_text_list(value: object) -> bool:
    return isinstance(value, list) and len(value) <= MAX_LIST_LENGTH and all(is_valid_text(v) for v in value)


def _is_box(value: object) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(_number(0.0, 1.0)(c) for c in value)


def _is_label(value: object) -> bool:
    return isinstance(value, str) and LABEL_RE.fullmatch(value) is not None


_TEXT: Final = f"text of 1-{MAX_TEXT_LENGTH} characters without control characters"


def _take(
    data: Mapping[str, Any],
    out: dict[str, Any],
    key: str,
    check: _Check,
    what: str,
    *,
    required: bool = True,
) -> None:
    if key not in data:
        if required:
            raise ProtocolError(f"{key!r} is missing")
        return
    value = data[key]
    if not check(value):
        raise ProtocolError(f"{key!r} must be {what}, got {_show(value)}")
    out[key] = value


def _take_number(
    data: Mapping[str, Any],
    out: dict[str, Any],
    key: str,
    lo: float | None = None,
    hi: float | None = None,
    *,
    required: bool = True,
    nullable: bool = False,
) -> None:
    what = _range(lo, hi) + (" or null" if nullable else "")
    _take(data, out, key, _number(lo, hi, nullable=nullable), what, required=required)


def _check_state(kind: str, data: Mapping[str, Any]) -> StatePayload:
    out: dict[str, Any] = {"v": SCHEMA_VERSION}
    _take(data, out, "enabled", _is_bool, "a bool")
    if kind == KIND_CAMERA:
        _take_number(data, out, "fps", *FPS_RANGE, required=False)
        _take_number(data, out, LIVE, *LIVE_FPS_RANGE, required=False)
        _take_masks_and_objects(data, out)
    else:
        _take_number(data, out, "threshold", 0.0, 1.0, required=False)
        _take_number(data, out, "min_area", 0.0, 1.0, required=False)
    return cast(StatePayload, out)


# A query key that may carry a secret (as bobby_edge.redaction masks them).
_SECRET_QUERY_KEY_RE: Final = re.compile(
    r"(?:^|[?&])[^=&]*(?:pass|pwd|token|secret|key|auth|sig)", re.IGNORECASE
)


def is_valid_stream_url(value: object) -> bool:
    """An `rtsp://` or `rtsps://` URL without credentials: no user-info, no secret-looking query key.

    It travels in the retained `info`, which the broker keeps and other clients may read.
    """
    if not (isinstance(value, str) and len(value) <= MAX_STRING_LENGTH and not _CONTROL_RE.search(value)):
        return False
    scheme, sep, rest = value.partition("://")
    host, _, query = rest.partition("?")
    return (
        sep == "://"
        and scheme in ("rtsp", "rtsps")
        and bool(host)
        and "@" not in host.partition("/")[0]
        and not _SECRET_QUERY_KEY_RE.search("?" + query if query else "")
        and " " not in value
    )


def _check_info(t: Topic, data: Mapping[str, Any]) -> InfoPayload:
    if data.get("kind") != t.kind:
        raise ProtocolError(f"info kind {_show(data.get('kind'))} does not match the topic's {t.kind!r}")
    if data.get("id") != t.agent_id:
        raise ProtocolError(f"info id {_show(data.get('id'))} does not match the topic's {t.agent_id!r}")
    out: dict[str, Any] = {"v": SCHEMA_VERSION, "kind": t.kind, "id": t.agent_id}
    _take(data, out, "version", is_valid_text, _TEXT)
    _take_number(data, out, "stats_interval", 0.1, 3600)
    for key in ("name", "hostname", "model", "source", "stream_codec"):
        _take(data, out, key, is_valid_text, _TEXT, required=False)
    for key in ("resolution", "stream_resolution"):
        _take(data, out, key, _is_resolution, f"[width, height] of 1-{MAX_JPEG_SIDE}", required=False)
    _take_number(data, out, "stream_fps", *STREAM_FPS_RANGE, required=False)
    _take(
        data,
        out,
        "stream_url",
        is_valid_stream_url,
        "an rtsp:// or rtsps:// URL without user name, password or secret query keys",
        required=False,
    )
    _take(
        data, out, "capabilities", _is_text_list, f"a list of up to {MAX_LIST_LENGTH} words", required=False
    )
    return cast(InfoPayload, out)


def check_command(kind: str, data: Mapping[str, Any]) -> CommandPayload:
    """Validate a `set` command for a camera or detector (all or nothing); returns it typed."""
    out: dict[str, Any] = {"v": SCHEMA_VERSION}
    _take(data, out, "id", is_valid_request_id, f"a request id of {ID_RULE}")
    record = kind == KIND_CAMERA and data.get("action") == "record"
    live = kind == KIND_CAMERA and LIVE in data
    allowed = {
        "v",
        "id",
        "expires",
        "enabled",
        "action",
        *SETTINGS_BY_KIND[kind],
        *(("duration",) if record else ()),
        *((LIVE, "lease") if kind == KIND_CAMERA else ()),
    }
    if unknown := sorted(set(data) - allowed):
        raise ProtocolError(
            f"unknown setting(s) {_clip(', '.join(map(repr, unknown)))} for a {kind}; "
            f"allowed: enabled, action, {', '.join(SETTINGS_BY_KIND[kind])}"
        )
    if not set(data) - {"v", "id", "expires"}:
        raise ProtocolError("command has nothing to do: give enabled, a setting or an action")
    _take_number(data, out, "expires", 0, required=False)
    _take(data, out, "enabled", _is_bool, "a bool", required=False)
    if kind == KIND_CAMERA:
        _take_number(data, out, "fps", *FPS_RANGE, required=False)
        _take_masks_and_objects(data, out)
    else:
        _take_number(data, out, "threshold", 0.0, 1.0, required=False)
        _take_number(data, out, "min_area", 0.0, 1.0, required=False)
    if "action" in data:
        if data["action"] not in ACTIONS_BY_KIND[kind]:
            raise ProtocolError(
                f"unknown action {_show(data['action'])} for a {kind}; "
                f"allowed: {', '.join(ACTIONS_BY_KIND[kind]) or 'none'}"
            )
        out["action"] = data["action"]
    if record:
        _take_number(data, out, "duration", *RECORD_SECONDS_RANGE)
    if "lease" in data and not live:
        raise ProtocolError("'lease' goes with 'live'")
    if live:
        rate = data[LIVE]
        if not (_is_number(rate) and (rate == 0 or LIVE_FPS_RANGE[0] <= rate <= LIVE_FPS_RANGE[1])):
            raise ProtocolError(f"'live' must be 0 or {_range(*LIVE_FPS_RANGE)}, got {_show(rate)}")
        out[LIVE] = rate
        # A lease only for a rate: 0 ends it, and without a lease the camera would stream forever.
        _take_number(data, out, "lease", *LEASE_RANGE, required=rate != 0)
    return cast(CommandPayload, out)


def _check_ack(kind: str, data: Mapping[str, Any]) -> AckPayload:
    out: dict[str, Any] = {"v": SCHEMA_VERSION}
    _take(
        data, out, "id", lambda v: v is None or is_valid_request_id(v), f"null or a request id of {ID_RULE}"
    )
    _take(data, out, "ok", _is_bool, "a bool")
    if out["ok"]:
        state = data.get("state")
        if not isinstance(state, dict):
            raise ProtocolError("a successful ack carries the applied 'state' object")
        out["state"] = _check_state(kind, state)
    else:
        _take(data, out, "error", _is_error, f"text of up to {MAX_STRING_LENGTH} characters")
        _take(data, out, "code", lambda v: v in ACK_CODES, f"one of {', '.join(ACK_CODES)}", required=False)
    return cast(AckPayload, out)


def command_expired(command: Mapping[str, Any], now: float) -> bool:
    """Whether a (checked) command's `expires` time has passed; no `expires`: never."""
    expires = command.get("expires")
    return expires is not None and now > expires


def _is_problem(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("code"), str)
        and PROBLEM_CODE_RE.fullmatch(value["code"]) is not None
        and _is_counter(value.get("count"))
        and all(
            k not in value or (_is_error(value[k]) and len(value[k]) <= MAX_TEXT_LENGTH)
            for k in ("topic", "detail")
        )
    )


def _is_problem_list(value: object) -> bool:
    return isinstance(value, list) and len(value) <= MAX_PROBLEMS and all(_is_problem(p) for p in value)


# A detector's self-tests since start: answered (run through the pipeline), and refused unread.
SELFTEST_COUNTERS: Final = ("selftests", "selftests_invalid")
# Optional stats figures: a number ≥ 0, or null when the interval had no sample.
STATS_FIGURES: Final = (
    "inference_ms_p50",
    "inference_ms_p95",
    "queue_age_ms",
    "frame_ms_p50",
    "frame_ms_p95",
    "regions_per_frame",
    "tiles_per_frame",
    "capture_ms",
    "motion_ms",
)


def _check_camera_reports(data: Mapping[str, Any], out: dict[str, Any]) -> None:
    """A detector's `cameras`: up to MAX_STATS_CAMERAS ids, each {analysed, dropped, last_frame_time}."""
    if "cameras" not in data:
        return
    cameras = data["cameras"]
    if not isinstance(cameras, dict) or len(cameras) > MAX_STATS_CAMERAS:
        raise ProtocolError(f"'cameras' must be an object of up to {MAX_STATS_CAMERAS} camera ids")
    reports: dict[str, Any] = {}
    for camera, report in cameras.items():
        if not is_valid_agent_id(camera):
            raise ProtocolError(f"'cameras' key {_show(camera)} is not a camera id of {ID_RULE}")
        if not isinstance(report, dict):
            raise ProtocolError(f"'cameras' entry {camera!r} must be an object, got {_show(report)}")
        checked: dict[str, Any] = {}
        for key in ("analysed", "dropped"):
            _take(report, checked, key, _is_counter, f"a whole number 0-{MAX_INTEGER}")
        _take_number(report, checked, "last_frame_time", 0, required=False, nullable=True)
        reports[camera] = checked
    out["cameras"] = reports


def _check_stats(kind: str, data: Mapping[str, Any]) -> StatsPayload:
    out: dict[str, Any] = {"v": SCHEMA_VERSION}
    _take_number(data, out, "uptime", 0)
    _take_number(data, out, "fps", 0)
    counters = ("frames_sent", "capture_errors", "source_reconnects", "frames_received", "frames_analysed")
    for key in (*counters, "frames_dropped", "frames_invalid", "workers", *SELFTEST_COUNTERS):
        _take(data, out, key, _is_counter, f"a whole number 0-{MAX_INTEGER}", required=False)
    for key in STATS_FIGURES:
        _take_number(data, out, key, 0, required=False, nullable=True)
    _take_number(data, out, "cpu_temperature", required=False, nullable=True)
    _take_number(data, out, "fps_target", 0, required=False)
    # A detector's load (busy time / wall time of its workers, 0–1) and capacity (fps).
    _take_number(data, out, "load", 0, 1, required=False, nullable=True)
    _take_number(data, out, "capacity_fps", 0, required=False, nullable=True)
    _take(data, out, "capture_slow", _is_bool, "a bool", required=False)
    _take(
        data,
        out,
        "problems",
        _is_problem_list,
        f"a list of up to {MAX_PROBLEMS} {{code, count, topic, detail}} objects",
        required=False,
    )
    _take(data, out, "recording", _is_bool, "a bool", required=False)
    for key in RECORDING_COUNTERS:
        _take(data, out, key, _is_counter, f"a whole number 0-{MAX_INTEGER}", required=False)
    _check_camera_reports(data, out)
    _take(data, out, "cameras_omitted", _is_counter, f"a whole number 0-{MAX_INTEGER}", required=False)
    return cast(StatsPayload, out)


def _check_detection(t: Topic, data: Mapping[str, Any]) -> DetectionPayload:
    if data.get("camera") != t.agent_id:
        raise ProtocolError(
            f"detection camera {_show(data.get('camera'))} does not match the topic's {t.agent_id!r}"
        )
    out: dict[str, Any] = {"v": SCHEMA_VERSION, "camera": t.agent_id}
    _take(data, out, "detector", is_valid_agent_id, f"a detector id of {ID_RULE}")
    _take_number(data, out, "frame_time", 0)
    _take_number(data, out, "detection_time", 0)
    _take_number(data, out, "score", 0.0, 1.0)
    _take_number(data, out, "inference_ms", 0)
    _take(data, out, "snapshot", _is_bool, "a bool", required=False)
    _take(data, out, "person_count", _is_counter, f"a whole number 0-{MAX_INTEGER}", required=False)
    _take_boxes(data, out)
    return cast(DetectionPayload, out)


def _take_boxes(data: Mapping[str, Any], out: dict[str, Any]) -> None:
    boxes = data.get("boxes")
    if not isinstance(boxes, list) or len(boxes) > MAX_LIST_LENGTH:
        raise ProtocolError(f"'boxes' must be a list of up to {MAX_LIST_LENGTH} boxes")
    out["boxes"] = []
    for box in boxes:
        if not isinstance(box, dict):
            raise ProtocolError(f"a box must be an object, got {_show(box)}")
        checked: dict[str, Any] = {}
        _take_number(box, checked, "score", 0.0, 1.0)
        _take(box, checked, "box", _is_box, "[xmin, ymin, xmax, ymax] within 0-1")
        _take(box, checked, "label", _is_label, "a label of 1-32 characters a-z 0-9 _", required=False)
        out["boxes"].append(checked)


# --- detector self-test ---------------------------------------------------------------------


def encode_selftest(request_id: str, jpeg: bytes) -> bytes:
    """A `selftest` payload: the header line (request id), a newline, the JPEG."""
    return encode({"id": request_id}) + b"\n" + jpeg


def split_selftest(payload: bytes | bytearray | memoryview | str) -> tuple[SelfTestHeader, bytes]:
    """The checked header and the JPEG of a `selftest` payload (ProtocolError if unusable)."""
    raw = _as_bytes(payload)
    if len(raw) > MAX_SELFTEST_BYTES:
        raise ProtocolError(f"selftest of {len(raw)} bytes is over the {MAX_SELFTEST_BYTES}-byte limit")
    end = raw.find(b"\n", 0, MAX_SELFTEST_HEADER_BYTES + 1)
    if end < 0:
        raise ProtocolError(
            f"selftest has no JSON header line within its first {MAX_SELFTEST_HEADER_BYTES} bytes"
        )
    data = decode_json(raw[:end])
    out: dict[str, Any] = {"v": SCHEMA_VERSION}
    _take(data, out, "id", is_valid_request_id, f"a request id of {ID_RULE}")
    image = raw[end + 1 :]
    check_jpeg(image, MAX_SELFTEST_BYTES)
    return cast(SelfTestHeader, out), image


def _check_selftest_result(data: Mapping[str, Any]) -> SelfTestResult:
    out: dict[str, Any] = {"v": SCHEMA_VERSION}
    _take(data, out, "id", is_valid_request_id, f"a request id of {ID_RULE}")
    _take(data, out, "ok", _is_bool, "a bool")
    if out["ok"]:
        _take_boxes(data, out)
        _take(data, out, "person_count", _is_counter, f"a whole number 0-{MAX_INTEGER}", required=False)
        _take_number(data, out, "inference_ms", 0, required=False)
        _take_number(data, out, "frame_ms", 0, required=False)
    else:
        _take(data, out, "error", _is_error, f"text of up to {MAX_STRING_LENGTH} characters")
    return cast(SelfTestResult, out)


# --- recording chunks ---------------------------------------------------------------------

_EVENT: Final = f"an event id of {ID_RULE}"
_SEQ: Final = f"a whole number 0-{MAX_CHUNK_SEQ}"


_TOKEN: Final = "16-64 lowercase hex digits"
_TOKEN_RE: Final = re.compile(r"[0-9a-f]{16,64}")


def is_valid_chunk_token(value: object) -> bool:
    """A chunk's ack token: 16-64 lowercase hex digits."""
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


def new_chunk_token() -> str:
    """A fresh random token for a chunk header (128 bits)."""
    return secrets.token_hex(16)


def _is_seq(value: object) -> bool:
    return _is_counter(value) and cast(int, value) <= MAX_CHUNK_SEQ


def _check_chunk_header(t: Topic, data: Mapping[str, Any], media_bytes: int) -> ChunkHeader:
    if data.get("camera") != t.agent_id:
        raise ProtocolError(
            f"chunk camera {_show(data.get('camera'))} does not match the topic's {t.agent_id!r}"
        )
    out: dict[str, Any] = {"v": SCHEMA_VERSION, "camera": t.agent_id}
    _take(data, out, "event", is_valid_event_id, _EVENT)
    _take(data, out, "seq", _is_seq, _SEQ)
    _take_number(data, out, "start", 0)
    _take_number(data, out, "duration", 0, MAX_CHUNK_SECONDS + 1.0)
    _take(data, out, "last", _is_bool, "a bool")
    _take(data, out, "format", lambda v: v in CHUNK_FORMATS, f"one of {', '.join(CHUNK_FORMATS)}")
    _take(data, out, "bytes", _is_counter, "the length of the video after the header")
    _take_number(data, out, "event_start", 0, required=False)
    _take(
        data,
        out,
        "reason",
        lambda v: v in EVENT_REASONS,
        f"one of {', '.join(EVENT_REASONS)}",
        required=False,
    )
    _take(data, out, "token", is_valid_chunk_token, _TOKEN, required=False)
    if out["bytes"] != media_bytes:
        raise ProtocolError(
            f"chunk header says {out['bytes']} bytes of video but {media_bytes} follow (cut off?)"
        )
    if media_bytes == 0 and not out["last"]:
        raise ProtocolError("a chunk without video must be the last one of its event")
    return cast(ChunkHeader, out)


def _check_chunk_ack(data: Mapping[str, Any]) -> ChunkAckPayload:
    out: dict[str, Any] = {"v": SCHEMA_VERSION}
    _take(data, out, "event", is_valid_event_id, _EVENT)
    _take(data, out, "seq", _is_seq, _SEQ)
    _take(data, out, "token", is_valid_chunk_token, _TOKEN, required=False)
    _take(data, out, "ok", _is_bool, "a bool", required=False)
    if out.get("ok") is False:
        _take(data, out, "error", _is_error, f"text of up to {MAX_STRING_LENGTH} characters")
    return cast(ChunkAckPayload, out)


def split_chunk(payload: bytes | bytearray | memoryview | str) -> tuple[dict[str, Any], bytes]:
    """The header (JSON, schema version checked) and the video bytes of a `chunk` payload."""
    raw = _as_bytes(payload)
    if len(raw) > MAX_CHUNK_BYTES:
        raise ProtocolError(f"chunk of {len(raw)} bytes is over the {MAX_CHUNK_BYTES}-byte limit")
    end = raw.find(b"\n", 0, MAX_CHUNK_HEADER_BYTES + 1)
    if end < 0:
        raise ProtocolError(f"chunk has no JSON header line within its first {MAX_CHUNK_HEADER_BYTES} bytes")
    return decode_json(raw[:end]), raw[end + 1 :]


def encode_chunk(header: Mapping[str, Any], media: bytes) -> bytes:
    """A `chunk` payload: the header (schema version and `bytes` added), a newline, the video."""
    line = encode({**header, "bytes": len(media)})
    if len(line) > MAX_CHUNK_HEADER_BYTES:
        raise ProtocolError(f"chunk header of {len(line)} bytes is over {MAX_CHUNK_HEADER_BYTES}")
    return line + b"\n" + media


def encode_chunk_ack(event: str, seq: int, error: str | None = None, token: str | None = None) -> bytes:
    """A `chunk_ack` (with `error`: the chunk is refused for good and not sent again).

    `token` is the chunk header's: the camera deletes a chunk only on an ack that echoes it.
    """
    refusal = {"ok": False, "error": error} if error is not None else {}
    echo = {"token": token} if token is not None else {}
    return encode({"event": event, "seq": seq, **refusal, **echo})


# --- JPEG payloads -----------------------------------------------------------------------


def jpeg_dimensions(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """(width, height) from a JPEG's frame header, found by walking its marker segments.

    Checks the structure up to the frame header, not the image data: cheap enough for
    every frame, and enough to refuse what is not a JPEG or claims an absurd size.
    """
    raw = bytes(data)
    if raw[:2] != b"\xff\xd8":
        raise ProtocolError(f"not a JPEG: {len(raw)} bytes that do not start with FF D8")
    pos, end = 2, len(raw)
    for _ in range(_JPEG_MAX_SEGMENTS):
        if pos < end and raw[pos] != 0xFF:
            raise ProtocolError(f"corrupt JPEG: no marker at byte {pos} of {end}")
        while pos < end and raw[pos] == 0xFF:  # fill bytes may pad a marker
            pos += 1
        if pos < end and raw[pos] in (0x00, 0xD8, 0xD9, 0xDA):  # no SOF before the image data
            raise ProtocolError(f"corrupt JPEG: marker FF {raw[pos]:02X} before any frame header")
        if pos + 3 > end:
            raise ProtocolError(f"corrupt JPEG: cut off at byte {end}, before its frame header")
        marker, length = raw[pos], int.from_bytes(raw[pos + 1 : pos + 3], "big")
        if length < 2:
            raise ProtocolError(f"corrupt JPEG: segment FF {marker:02X} of length {length}")
        if marker in _JPEG_SOF_MARKERS:
            if length < 8 or pos + 8 > end:
                raise ProtocolError("corrupt JPEG: its frame header is cut off")
            height = int.from_bytes(raw[pos + 4 : pos + 6], "big")
            width = int.from_bytes(raw[pos + 6 : pos + 8], "big")
            if not width or not height:
                raise ProtocolError(f"JPEG frame header gives no size ({width}×{height})")
            return width, height
        pos += 1 + length
    raise ProtocolError(f"JPEG has no frame header in its first {_JPEG_MAX_SEGMENTS} segments")


def check_jpeg(data: bytes | bytearray | memoryview, max_bytes: int = MAX_JPEG_BYTES) -> tuple[int, int]:
    """(width, height) of a JPEG within the contract's limits, or ProtocolError."""
    if len(data) > max_bytes:
        raise ProtocolError(f"JPEG of {len(data)} bytes is over the {max_bytes}-byte limit")
    width, height = jpeg_dimensions(data)
    if width > MAX_JPEG_SIDE or height > MAX_JPEG_SIDE or width * height > MAX_JPEG_PIXELS:
        raise ProtocolError(
            f"JPEG of {width}×{height} pixels is over the limits "
            f"({MAX_JPEG_SIDE} px a side, {MAX_JPEG_PIXELS // 1_000_000} MP)"
        )
    return width, height


# --- messages ----------------------------------------------------------------------------


def parse_message(
    full_topic: str, payload: bytes | bytearray | memoryview | str, base: str | None = None
) -> tuple[
    Topic,
    str
    | bytes
    | InfoPayload
    | StatePayload
    | CommandPayload
    | AckPayload
    | StatsPayload
    | DetectionPayload
    | ChunkAckPayload
    | tuple[ChunkHeader, bytes]
    | tuple[SelfTestHeader, bytes]
    | SelfTestResult,
]:
    """Parse and validate one message.

    Returns the topic and the payload: `status` as text, `frame`/`snapshot`/`preview` as
    JPEG bytes, `chunk` as (header, video bytes), `selftest` as (header, JPEG bytes), JSON
    channels as their typed payload holding only the keys the contract defines (unknown
    keys are ignored, as docs/protocol.md says).
    """
    t = parse_topic(full_topic, base)
    if t.channel in BINARY_CHANNELS:
        image = _as_bytes(payload)
        check_jpeg(image)
        return t, image
    if t.channel == "status":
        raw = _as_bytes(payload)
        if raw not in (ONLINE.encode(), OFFLINE.encode()):
            # The size only: a status of 60 KB of brackets must not reach a log line.
            raise ProtocolError(f"status must be 'online' or 'offline', got {len(raw)} other bytes")
        return t, raw.decode()
    if t.channel == CHUNK_CHANNEL:
        header, media = split_chunk(payload)
        return t, (_check_chunk_header(t, header, len(media)), media)
    if t.channel == SELFTEST_CHANNEL:
        return t, split_selftest(payload)
    data = decode_json(payload)
    match t.channel:
        case "info":
            return t, _check_info(t, data)
        case "state":
            return t, _check_state(t.kind, data)
        case "set":
            return t, check_command(t.kind, data)
        case "ack":
            return t, _check_ack(t.kind, data)
        case "stats":
            return t, _check_stats(t.kind, data)
        case "chunk_ack":
            return t, _check_chunk_ack(data)
        case "selftest_result":
            return t, _check_selftest_result(data)
        case _:
            return t, _check_detection(t, data)


def encode(data: Mapping[str, Any]) -> bytes:
    """Serialise a JSON payload, adding the schema version."""
    return json.dumps({"v": SCHEMA_VERSION, **data}, separators=(",", ":")).encode()


def encode_command(request_id: str, **fields: Any) -> bytes:
    """Serialise a `set` command with its request id and schema version."""
    return encode({"id": request_id, **fields})


# --- frame regions (MQTT v5 user property) ------------------------------------------


@dataclass(frozen=True, slots=True)
class Regions:
    """A frame's regions of interest as parsed: what to use, and what was wrong with the rest."""

    boxes: tuple[Coords, ...]
    problem: str | None = None  # for a (throttled) log line; never holds the raw value
    # False when the value could not be read at all: the frame counts as one without regions.
    readable: bool = True


def format_regions(boxes: list[Coords] | tuple[Coords, ...]) -> str:
    """The `regions` property value for these boxes: compact JSON, 4 decimals."""
    return json.dumps([[round(v, 4) for v in box] for box in boxes], separators=(",", ":"))


def _region(item: Any) -> tuple[Coords | None, bool]:
    """One list item → (box clamped into the frame or None when unusable, whether clamped)."""
    if not (
        isinstance(item, list)
        and len(item) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in item)
    ):
        return None, False
    clamped = tuple(min(1.0, max(0.0, float(v))) for v in item)
    xmin, ymin, xmax, ymax = clamped
    if xmax <= xmin or ymax <= ymin:
        return None, False  # negative or zero size (also after clamping: wholly outside)
    return (xmin, ymin, xmax, ymax), clamped != tuple(float(v) for v in item)


def parse_regions(value: str | bytes) -> Regions:
    """The `regions` property → Regions (`readable` False when it cannot be read at all).

    Hostile values are defused, never fatal: boxes are clamped into 0..1, items that are not
    four finite numbers or have no area are dropped, and only the MAX_REGIONS largest are kept.
    """
    raw = _as_bytes(value)
    if len(raw) > MAX_REGIONS_BYTES:
        return Regions(
            (), f"regions property of {len(raw)} bytes is over {MAX_REGIONS_BYTES}; ignored", readable=False
        )
    try:
        # The same guards as every JSON payload: nesting, huge integers, NaN and Infinity.
        _check_nesting(raw)
        items = json.loads(
            raw.decode(), parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
        )
    except (ProtocolError, ValueError, RecursionError):
        return Regions((), "regions property is not JSON of finite numbers; ignored", readable=False)
    if not isinstance(items, list):
        return Regions((), "regions property is not a JSON list; ignored", readable=False)
    boxes: list[Coords] = []
    dropped = clamped = 0
    for item in items:
        box, was_clamped = _region(item)
        if box is None:
            dropped += 1
            continue
        clamped += was_clamped
        boxes.append(box)
    capped = max(0, len(boxes) - MAX_REGIONS)
    if capped:
        boxes = sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)[:MAX_REGIONS]
    problems = [
        f"{dropped} not [xmin, ymin, xmax, ymax] with an area, dropped" if dropped else "",
        f"{clamped} clamped into the frame" if clamped else "",
        f"{capped} beyond the first {MAX_REGIONS} largest, dropped" if capped else "",
    ]
    problem = "; ".join(p for p in problems if p)
    return Regions(tuple(boxes), f"regions: {problem}" if problem else None)


# --- masks, zones and objects ----------------------------------------------------------


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether two segments share a point (touching counts: a polygon must not touch itself)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True

    def on(a: Point, b: Point, c: Point, d: float) -> bool:
        return (
            d == 0
            and min(a[0], b[0]) <= c[0] <= max(a[0], b[0])
            and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
        )

    return on(q1, q2, p1, d1) or on(q1, q2, p2, d2) or on(p1, p2, q1, d3) or on(p1, p2, q2, d4)


def polygon_area(polygon: Polygon) -> float:
    """The area of a simple polygon (shoelace), as a fraction of the frame."""
    n = len(polygon)
    twice = sum(
        polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1] for i in range(n)
    )
    return abs(twice) / 2


def check_polygon(value: object, what: str = "polygon", *, simple: bool = True) -> Polygon:
    """A mask's or zone's polygon: 3-MAX_POLYGON_POINTS [x, y] points within 0-1, with an
    area, its edges not crossing each other. PolygonError (its `reason` a stable code) if not.

    `simple=False` leaves out the crossing check (O(n²), 8 ms for 16 polygons of 32 points):
    a frame's masks were checked when they were set, and a crossed one only masks oddly.
    """
    if not isinstance(value, list | tuple) or not all(
        isinstance(p, list | tuple) and len(p) == 2 and all(_is_number(c) for c in p) for p in value
    ):
        raise PolygonError("shape", f"{what} must be a list of [x, y] points, got {_show(value)}")
    if not 3 <= len(value) <= MAX_POLYGON_POINTS:
        raise PolygonError(
            "points", f"{what} has {len(value)} points: a polygon needs 3 to {MAX_POLYGON_POINTS}"
        )
    polygon = tuple((float(x), float(y)) for x, y in value)
    if not all(0.0 <= c <= 1.0 for point in polygon for c in point):
        outside = next(p for p in polygon if not all(0.0 <= c <= 1.0 for c in p))
        raise PolygonError(
            "range", f"{what} has the point {_show(list(outside))} outside the frame: coordinates are 0-1"
        )
    n = len(polygon) if simple else 0
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbouring edges share a corner
            if _segments_cross(polygon[i], polygon[(i + 1) % n], polygon[j], polygon[(j + 1) % n]):
                raise PolygonError(
                    "self_intersecting",
                    f"{what} crosses itself (edges {i + 1} and {j + 1}): list its corners in order around it",
                )
    if polygon_area(polygon) < 1e-6:
        raise PolygonError("area", f"{what} has no area: its points lie on one line or on each other")
    return polygon


def polygon_contains(polygon: Polygon, x: float, y: float) -> bool:
    """Whether the point lies inside the polygon or on its edge (a person whose feet the
    frame's bottom edge cuts stands in a zone drawn down to that edge)."""
    inside = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (
            abs(_cross((x1, y1), (x2, y2), (x, y))) <= 1e-9
            and min(x1, x2) <= x <= max(x1, x2)
            and min(y1, y2) <= y <= max(y1, y2)
        ):
            return True  # on this edge
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def check_masks(value: object) -> list[list[list[float]]]:
    """A camera's `masks`: up to MAX_MASKS polygons (check_polygon), as JSON lists."""
    if not isinstance(value, list) or len(value) > MAX_MASKS:
        raise ProtocolError(f"'masks' must be a list of up to {MAX_MASKS} polygons, got {_show(value)}")
    return [[[x, y] for x, y in check_polygon(m, f"mask {i + 1}")] for i, m in enumerate(value)]


def check_objects(value: object) -> list[str]:
    """A camera's `objects`: 1-len(OBJECT_LABELS) different labels of OBJECT_LABELS."""
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v in OBJECT_LABELS for v in value)
        or len(set(value)) != len(value)
    ):
        raise ProtocolError(
            f"'objects' must be a list of different labels of {', '.join(OBJECT_LABELS)}, got {_show(value)}"
        )
    return list(value)


# What a camera's `state` leaves out when it holds it (no masks, person only).
SETTING_DEFAULTS: Final = {"masks": [], "objects": list(DEFAULT_OBJECTS)}


def non_default_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that differ from SETTING_DEFAULTS (others pass through)."""
    return {k: v for k, v in settings.items() if k not in SETTING_DEFAULTS or list(v) != SETTING_DEFAULTS[k]}


def _take_masks_and_objects(data: Mapping[str, Any], out: dict[str, Any]) -> None:
    if "masks" in data:
        out["masks"] = check_masks(data["masks"])
    if "objects" in data:
        out["objects"] = check_objects(data["objects"])


def format_masks(masks: list[list[list[float]]] | tuple[Polygon, ...]) -> str:
    """The `masks` property value: compact JSON, 4 decimals."""
    return json.dumps([[[round(c, 4) for c in p] for p in m] for m in masks], separators=(",", ":"))


def format_objects(objects: list[str] | tuple[str, ...]) -> str:
    """The `objects` property value: a compact JSON list."""
    return json.dumps(list(objects), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class FrameSettings:
    """A frame's masks and objects as parsed (docs/protocol.md): what to apply, and what was wrong."""

    masks: tuple[Polygon, ...] = ()
    objects: tuple[str, ...] = DEFAULT_OBJECTS
    problem: str | None = None  # for a (throttled) log line; never holds the raw value


def _property_json(raw: bytes, name: str) -> tuple[Any, str | None]:
    if len(raw) > MAX_MASKS_BYTES:
        return None, f"{name} property of {len(raw)} bytes is over {MAX_MASKS_BYTES}; ignored"
    try:
        _check_nesting(raw)
        return json.loads(
            raw.decode(), parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
        ), None
    except (ProtocolError, ValueError, RecursionError):
        return None, f"{name} property is not JSON of finite numbers; ignored"


def parse_frame_settings(masks: str | bytes | None, objects: str | bytes | None) -> FrameSettings:
    """The `masks` and `objects` properties of a frame (None: not sent) → FrameSettings.

    Hostile values are defused, never fatal: a polygon that is not one is dropped (the
    rest apply), unknown labels are dropped, and objects that name nothing known fall
    back to the default (person only).
    """
    problems: list[str] = []
    polygons: list[Polygon] = []
    if masks is not None:
        items, problem = _property_json(_as_bytes(masks), MASKS_PROPERTY)
        if problem:
            problems.append(problem)
        elif not isinstance(items, list):
            problems.append("masks property is not a JSON list; ignored")
        else:
            for i, item in enumerate(items[:MAX_MASKS]):
                try:
                    polygons.append(check_polygon(item, f"mask {i + 1}", simple=False))
                except ProtocolError as err:
                    problems.append(f"{err}; dropped")
            if len(items) > MAX_MASKS:
                problems.append(f"{len(items) - MAX_MASKS} masks beyond the first {MAX_MASKS} dropped")
    labels: tuple[str, ...] = DEFAULT_OBJECTS
    if objects is not None:
        items, problem = _property_json(_as_bytes(objects), OBJECTS_PROPERTY)
        if problem:
            problems.append(problem)
        elif not isinstance(items, list):
            problems.append("objects property is not a JSON list; ignored")
        else:
            known = tuple(dict.fromkeys(v for v in items if isinstance(v, str) and v in OBJECT_LABELS))
            if len(known) != len(items):
                problems.append(
                    f"{len(items) - len(known)} objects not among {', '.join(OBJECT_LABELS)}, dropped"
                )
            labels = known or DEFAULT_OBJECTS
    return FrameSettings(tuple(polygons), labels, "; ".join(problems) or None)
