"""The Bobby Camera MQTT contract (docs/protocol.md), as the integration reads it.

Pure Python on purpose: no Home Assistant imports, so the contract test can exercise it
alone and HACS users get it with the integration (the agents' own parser is not
installed in Home Assistant). Both parsers are tested against tests/protocol_examples/.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

SCHEMA_VERSION: Final = 1
MAX_JSON_BYTES: Final = 64 * 1024

KIND_CAMERA: Final = "camera"
KIND_DETECTOR: Final = "detector"
KINDS: Final = (KIND_CAMERA, KIND_DETECTOR)

ONLINE: Final = "online"
OFFLINE: Final = "offline"

JSON_CHANNELS: Final = frozenset({"info", "state", "set", "ack", "stats", "detection"})
BINARY_CHANNELS: Final = frozenset({"frame", "snapshot", "preview"})
CAMERA_ONLY: Final = frozenset({"frame", "snapshot", "preview", "detection"})
CHANNELS: Final = frozenset({"status"}) | JSON_CHANNELS | BINARY_CHANNELS

# QoS and retain flags per channel, as the table in docs/protocol.md gives them.
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
}
RETAINED: Final = frozenset({"status", "info", "state", "snapshot", "preview"})

_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SETTINGS: Final = {KIND_CAMERA: frozenset({"fps"}), KIND_DETECTOR: frozenset({"threshold", "min_area"})}
_ACTIONS: Final = {KIND_CAMERA: frozenset({"preview"}), KIND_DETECTOR: frozenset()}


class ProtocolError(ValueError):
    """A message that breaks the contract; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class Topic:
    """`<base>/<kind>/<id>/<channel>`."""

    base: str
    kind: str
    service_id: str
    channel: str


def build_topic(base: str, kind: str, service_id: str, channel: str) -> str:
    """Return the topic of one channel of one service."""
    return f"{base}/{kind}/{service_id}/{channel}"


def is_valid_service_id(service_id: object) -> bool:
    """Return whether this is a valid service id."""
    return isinstance(service_id, str) and _ID_RE.match(service_id) is not None


def is_valid_base_topic(base: object) -> bool:
    """Return whether this can be a base topic (no wildcards, no empty levels)."""
    return (
        isinstance(base, str)
        and bool(base)
        and not any(ch in base for ch in "+#\x00")
        and all(base.split("/"))
    )


def parse_topic(topic: str, base: str | None = None) -> Topic:
    """Split and check a topic; `base`, when given, must match."""
    parts = topic.rsplit("/", 3)
    if len(parts) != 4 or not parts[0]:
        raise ProtocolError(f"topic {topic!r} is not <base>/<kind>/<id>/<channel>")
    topic_base, kind, service_id, channel = parts
    if base is not None and topic_base != base:
        raise ProtocolError(f"topic {topic!r} is not under the base topic {base!r}")
    if kind not in KINDS:
        raise ProtocolError(f"topic {topic!r}: kind {kind!r} is neither camera nor detector")
    if not is_valid_service_id(service_id):
        raise ProtocolError(f"topic {topic!r}: service id {service_id!r} is not 1-64 of A-Z a-z 0-9 _ -")
    if channel not in CHANNELS:
        raise ProtocolError(f"topic {topic!r}: unknown channel {channel!r}")
    if channel in CAMERA_ONLY and kind != KIND_CAMERA:
        raise ProtocolError(f"topic {topic!r}: {channel} exists only for cameras")
    return Topic(topic_base, kind, service_id, channel)


# --- value checks -----------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _need(
    data: dict[str, Any], key: str, ok: Callable[[Any], bool], what: str, *, required: bool = True
) -> None:
    if key not in data:
        if required:
            raise ProtocolError(f"{key!r} is missing")
        return
    if not ok(data[key]):
        raise ProtocolError(f"{key!r} must be {what}, got {data[key]!r}")


def _number(
    lo: float | None = None, hi: float | None = None, *, nullable: bool = False
) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if value is None:
            return nullable
        return _is_number(value) and (lo is None or value >= lo) and (hi is None or value <= hi)

    return check


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_counter(value: object) -> bool:
    return _is_int(value) and value >= 0  # type: ignore[operator]


def _is_resolution(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_int(v) and v > 0 for v in value)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_box(value: object) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(_number(0.0, 1.0)(v) for v in value)


def _check_state(kind: str, data: dict[str, Any]) -> None:
    _need(data, "enabled", _is_bool, "true or false")
    if kind == KIND_CAMERA:
        _need(data, "fps", _number(0.1, 30.0), "a number 0.1-30", required=False)
    else:
        _need(data, "threshold", _number(0.0, 1.0), "a number 0-1", required=False)
        _need(data, "min_area", _number(0.0, 1.0), "a number 0-1", required=False)


def _check_info(t: Topic, data: dict[str, Any]) -> None:
    if data.get("kind") != t.kind:
        raise ProtocolError(f"info kind {data.get('kind')!r} does not match the topic's {t.kind!r}")
    if data.get("id") != t.service_id:
        raise ProtocolError(f"info id {data.get('id')!r} does not match the topic's {t.service_id!r}")
    _need(data, "version", _is_str, "a string")
    _need(data, "stats_interval", _number(0.1, 3600), "a number of seconds 0.1-3600")
    for key in ("name", "hostname", "model"):
        _need(data, key, _is_str, "a string", required=False)
    _need(data, "resolution", _is_resolution, "[width, height]", required=False)
    _need(data, "capabilities", _is_str_list, "a list of strings", required=False)


def check_command(kind: str, data: dict[str, Any]) -> None:
    """Check a `set` command as a service of this kind would."""
    _need(data, "id", lambda v: isinstance(v, str) and 1 <= len(v) <= 64, "a request id of 1-64 characters")
    allowed = {"v", "id", "enabled", "action"} | _SETTINGS[kind]
    if unknown := sorted(set(data) - allowed):
        raise ProtocolError(f"unknown key(s) {', '.join(unknown)} in a command to a {kind}")
    if not set(data) - {"v", "id"}:
        raise ProtocolError("command has nothing to do")
    _need(data, "enabled", _is_bool, "true or false", required=False)
    _need(data, "fps", _number(0.1, 30.0), "a number 0.1-30", required=False)
    _need(data, "threshold", _number(0.0, 1.0), "a number 0-1", required=False)
    _need(data, "min_area", _number(0.0, 1.0), "a number 0-1", required=False)
    _need(data, "action", lambda v: v in _ACTIONS[kind], f"one of {sorted(_ACTIONS[kind])}", required=False)


def _check_ack(kind: str, data: dict[str, Any]) -> None:
    _need(data, "id", lambda v: v is None or isinstance(v, str), "a string or null")
    _need(data, "ok", _is_bool, "true or false")
    if data["ok"]:
        state = data.get("state")
        if not isinstance(state, dict):
            raise ProtocolError("a successful ack must carry the applied 'state' object")
        _check_state(kind, state)
    else:
        _need(data, "error", _is_str, "a string")


def _check_stats(_kind: str, data: dict[str, Any]) -> None:
    _need(data, "uptime", _number(0), "a number ≥ 0")
    _need(data, "fps", _number(0), "a number ≥ 0")
    for key in (
        "frames_sent",
        "capture_errors",
        "frames_received",
        "frames_analysed",
        "frames_dropped",
        "frames_invalid",
    ):
        _need(data, key, _is_counter, "a whole number ≥ 0", required=False)
    for key in ("inference_ms_p50", "inference_ms_p95", "queue_age_ms", "cpu_temperature"):
        _need(data, key, _number(nullable=True), "a number or null", required=False)
    _need(data, "fps_target", _number(0), "a number ≥ 0", required=False)
    _need(data, "capture_slow", _is_bool, "true or false", required=False)


def _check_detection(t: Topic, data: dict[str, Any]) -> None:
    if data.get("camera") != t.service_id:
        raise ProtocolError(
            f"detection camera {data.get('camera')!r} does not match the topic's {t.service_id!r}"
        )
    _need(data, "detector", _is_str, "a string")
    _need(data, "frame_time", _number(0), "a Unix time")
    _need(data, "detection_time", _number(0), "a Unix time")
    _need(data, "score", _number(0.0, 1.0), "a number 0-1")
    _need(data, "inference_ms", _number(0), "a number ≥ 0")
    _need(data, "snapshot", _is_bool, "true or false", required=False)
    boxes = data.get("boxes")
    if not isinstance(boxes, list):
        raise ProtocolError("'boxes' must be a list")
    for box in boxes:
        if not isinstance(box, dict):
            raise ProtocolError(f"a box must be an object, got {box!r}")
        _need(box, "score", _number(0.0, 1.0), "a number 0-1")
        _need(box, "box", _is_box, "[xmin, ymin, xmax, ymax] within 0-1")


def decode_json(payload: bytes | bytearray | str) -> dict[str, Any]:
    """Decode a JSON object payload and check its schema version."""
    size = len(payload.encode() if isinstance(payload, str) else payload)
    if size > MAX_JSON_BYTES:
        raise ProtocolError(f"payload of {size} bytes is over the {MAX_JSON_BYTES}-byte limit")
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise ProtocolError(f"payload is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ProtocolError("payload must be a JSON object")
    if not _is_int(data.get("v")):
        raise ProtocolError("payload has no integer schema version 'v'")
    version: int = data["v"]
    if not 1 <= version <= SCHEMA_VERSION:
        raise ProtocolError(
            f"schema version {version} is not supported (this integration reads {SCHEMA_VERSION})"
        )
    return data


def parse_message(topic: str, payload: bytes | bytearray | str, base: str | None = None) -> tuple[Topic, Any]:
    """Parse one message: the topic, and the payload as dict (JSON), str (status) or bytes."""
    t = parse_topic(topic, base)
    if t.channel in BINARY_CHANNELS:
        return t, payload.encode() if isinstance(payload, str) else bytes(payload)
    if t.channel == "status":
        try:
            text = payload if isinstance(payload, str) else bytes(payload).decode()
        except UnicodeDecodeError:
            text = repr(payload)
        if text not in (ONLINE, OFFLINE):
            raise ProtocolError(f"status must be 'online' or 'offline', got {text!r}")
        return t, text
    data = decode_json(payload)
    match t.channel:
        case "info":
            _check_info(t, data)
        case "state":
            _check_state(t.kind, data)
        case "set":
            check_command(t.kind, data)
        case "ack":
            _check_ack(t.kind, data)
        case "stats":
            _check_stats(t.kind, data)
        case "detection":
            _check_detection(t, data)
    return t, data


def encode_command(request_id: str, **fields: Any) -> str:
    """Serialise a `set` command with its request id and schema version."""
    return json.dumps({"v": SCHEMA_VERSION, "id": request_id, **fields}, separators=(",", ":"))
