"""The MQTT contract of docs/protocol.md: topics, and building and checking payloads.

Every agent goes through this module, so the wire format lives in one place. The
integration has its own parser (custom_components/bobby_camera/protocol.py); both are
tested against the example messages in tests/protocol_examples/.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Final

SCHEMA_VERSION: Final = 1
DEFAULT_BASE_TOPIC: Final = "bobby"
DEFAULT_DETECTOR_GROUP: Final = "bobby-detectors"
MAX_JSON_BYTES: Final = 64 * 1024

KINDS: Final = ("camera", "detector")
JSON_CHANNELS: Final = ("info", "state", "set", "ack", "stats", "detection")
BINARY_CHANNELS: Final = ("frame", "snapshot", "preview")
CAMERA_ONLY_CHANNELS: Final = ("frame", "snapshot", "preview", "detection")
CHANNELS: Final = ("status", *JSON_CHANNELS, *BINARY_CHANNELS)

ONLINE: Final = "online"
OFFLINE: Final = "offline"

# MQTT v5 user property a camera agent adds to each frame (Unix time, decimal string).
FRAME_TIME_PROPERTY: Final = "frame_time"

SERVICE_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

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
}
RETAINED: Final = frozenset({"status", "info", "state", "snapshot", "preview"})

SETTINGS_BY_KIND: Final = {"camera": ("fps",), "detector": ("threshold", "min_area")}
ACTIONS_BY_KIND: Final = {"camera": ("preview",), "detector": ()}
FPS_RANGE: Final = (0.1, 30.0)


class ProtocolError(ValueError):
    """A message that does not follow docs/protocol.md; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed `<base>/<kind>/<id>/<channel>` topic."""

    base: str
    kind: str
    service_id: str
    channel: str

    def __str__(self) -> str:
        return topic(self.base, self.kind, self.service_id, self.channel)


def validate_service_id(service_id: str) -> str:
    if not isinstance(service_id, str) or not SERVICE_ID_RE.match(service_id):
        raise ProtocolError(f"service id {service_id!r} is not valid: use 1-64 characters of A-Z a-z 0-9 _ -")
    return service_id


def topic(base: str, kind: str, service_id: str, channel: str) -> str:
    return f"{base}/{kind}/{service_id}/{channel}"


def frame_subscription(base: str, group: str | None) -> str:
    """The frame filter a detector subscribes to, shared when a group is given."""
    filter_ = f"{base}/camera/+/frame"
    return f"$share/{group}/{filter_}" if group else filter_


def parse_topic(full_topic: str, base: str | None = None) -> Topic:
    parts = full_topic.rsplit("/", 3)
    if len(parts) != 4:
        raise ProtocolError(f"topic {full_topic!r} is not <base>/<kind>/<id>/<channel>")
    topic_base, kind, service_id, channel = parts
    if base is not None and topic_base != base:
        raise ProtocolError(f"topic {full_topic!r} is not under base topic {base!r}")
    if kind not in KINDS:
        raise ProtocolError(f"topic {full_topic!r}: kind {kind!r} is not camera or detector")
    validate_service_id(service_id)
    if channel not in CHANNELS:
        raise ProtocolError(f"topic {full_topic!r}: unknown channel {channel!r}")
    if channel in CAMERA_ONLY_CHANNELS and kind != "camera":
        raise ProtocolError(f"topic {full_topic!r}: {channel} exists only for cameras")
    return Topic(topic_base, kind, service_id, channel)


# --- field checks -------------------------------------------------------------------


def _number(
    data: dict[str, Any],
    key: str,
    lo: float | None = None,
    hi: float | None = None,
    *,
    required: bool = True,
    nullable: bool = False,
) -> None:
    if key not in data:
        if required:
            raise ProtocolError(f"{key!r} is missing")
        return
    value = data[key]
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(f"{key!r} must be a number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ProtocolError(f"{key!r} must be between {lo} and {hi}, got {value!r}")


def _typed(data: dict[str, Any], key: str, kind: type, *, required: bool = True) -> None:
    if key not in data:
        if required:
            raise ProtocolError(f"{key!r} is missing")
        return
    value = data[key]
    # bool is an int subclass: only accept it where a bool is asked for.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ProtocolError(f"{key!r} must be a {kind.__name__}, got {value!r}")


def _counter(data: dict[str, Any], key: str) -> None:
    if key in data:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ProtocolError(f"{key!r} must be a whole number ≥ 0, got {value!r}")


def _check_state(kind: str, data: dict[str, Any]) -> None:
    _typed(data, "enabled", bool)
    if kind == "camera":
        _number(data, "fps", *FPS_RANGE, required=False)
    else:
        _number(data, "threshold", 0.0, 1.0, required=False)
        _number(data, "min_area", 0.0, 1.0, required=False)


def _check_info(t: Topic, data: dict[str, Any]) -> None:
    if data.get("kind") != t.kind:
        raise ProtocolError(f"info kind {data.get('kind')!r} does not match topic kind {t.kind!r}")
    if data.get("id") != t.service_id:
        raise ProtocolError(f"info id {data.get('id')!r} does not match topic id {t.service_id!r}")
    _typed(data, "version", str)
    _typed(data, "name", str, required=False)
    _typed(data, "hostname", str, required=False)
    _typed(data, "model", str, required=False)
    _number(data, "stats_interval", 0.1, 3600)
    if "resolution" in data:
        res = data["resolution"]
        if not (
            isinstance(res, list)
            and len(res) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in res)
        ):
            raise ProtocolError(f"'resolution' must be [width, height], got {res!r}")
    if "capabilities" in data:
        caps = data["capabilities"]
        if not (isinstance(caps, list) and all(isinstance(c, str) for c in caps)):
            raise ProtocolError(f"'capabilities' must be a list of strings, got {caps!r}")


def check_command(kind: str, data: dict[str, Any]) -> None:
    """Validate a `set` command for a service of this kind (all or nothing)."""
    request_id = data.get("id")
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= 64:
        raise ProtocolError("command needs an 'id': a request id of 1-64 characters")
    allowed = {"v", "id", "enabled", "action", *SETTINGS_BY_KIND[kind]}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ProtocolError(
            f"unknown setting(s) {', '.join(unknown)} for a {kind}; "
            f"allowed: enabled, action, {', '.join(SETTINGS_BY_KIND[kind])}"
        )
    if len(set(data) - {"v", "id"}) == 0:
        raise ProtocolError("command has nothing to do: give enabled, a setting or an action")
    _typed(data, "enabled", bool, required=False)
    if "fps" in data:
        _number(data, "fps", *FPS_RANGE)
    for key in ("threshold", "min_area"):
        if key in data:
            _number(data, key, 0.0, 1.0)
    if "action" in data and data["action"] not in ACTIONS_BY_KIND[kind]:
        raise ProtocolError(
            f"unknown action {data['action']!r} for a {kind}; "
            f"allowed: {', '.join(ACTIONS_BY_KIND[kind]) or 'none'}"
        )


def _check_ack(kind: str, data: dict[str, Any]) -> None:
    if "id" not in data or not (data["id"] is None or isinstance(data["id"], str)):
        raise ProtocolError("ack needs an 'id' (string or null)")
    _typed(data, "ok", bool)
    if data["ok"]:
        state = data.get("state")
        if not isinstance(state, dict):
            raise ProtocolError("a successful ack carries the applied 'state'")
        _check_state(kind, state)
    else:
        _typed(data, "error", str)


def _check_stats(kind: str, data: dict[str, Any]) -> None:
    _number(data, "uptime", 0)
    _number(data, "fps", 0)
    for key in (
        "frames_sent",
        "capture_errors",
        "frames_received",
        "frames_analysed",
        "frames_dropped",
        "frames_invalid",
    ):
        _counter(data, key)
    for key in ("inference_ms_p50", "inference_ms_p95", "queue_age_ms", "cpu_temperature"):
        _number(data, key, required=False, nullable=True)
    _number(data, "fps_target", 0, required=False)
    _typed(data, "capture_slow", bool, required=False)


def _check_detection(t: Topic, data: dict[str, Any]) -> None:
    if data.get("camera") != t.service_id:
        raise ProtocolError(
            f"detection camera {data.get('camera')!r} does not match topic id {t.service_id!r}"
        )
    _typed(data, "detector", str)
    _number(data, "frame_time", 0)
    _number(data, "detection_time", 0)
    _number(data, "score", 0.0, 1.0)
    _number(data, "inference_ms", 0)
    _typed(data, "snapshot", bool, required=False)
    boxes = data.get("boxes")
    if not isinstance(boxes, list):
        raise ProtocolError("'boxes' must be a list")
    for box in boxes:
        if not isinstance(box, dict):
            raise ProtocolError(f"a box must be an object, got {box!r}")
        _number(box, "score", 0.0, 1.0)
        coords = box.get("box")
        if not (
            isinstance(coords, list)
            and len(coords) == 4
            and all(isinstance(c, int | float) and not isinstance(c, bool) and 0 <= c <= 1 for c in coords)
        ):
            raise ProtocolError(f"'box' must be [xmin, ymin, xmax, ymax] within 0..1, got {coords!r}")


def decode_json(payload: bytes | str) -> dict[str, Any]:
    """Decode a JSON payload and check its schema version."""
    if len(payload) > MAX_JSON_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes is over the {MAX_JSON_BYTES}-byte limit")
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise ProtocolError(f"payload is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ProtocolError("payload must be a JSON object")
    version = data.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProtocolError("payload has no integer schema version 'v'")
    if version > SCHEMA_VERSION or version < 1:
        raise ProtocolError(f"schema version {version} is not supported (this agent speaks {SCHEMA_VERSION})")
    return data


def parse_message(full_topic: str, payload: bytes | str, base: str | None = None) -> tuple[Topic, Any]:
    """Parse and validate one message; returns the topic and the payload (dict, str or bytes)."""
    t = parse_topic(full_topic, base)
    if t.channel in BINARY_CHANNELS:
        return t, payload
    if t.channel == "status":
        text = payload.decode() if isinstance(payload, bytes) else payload
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


def encode(data: dict[str, Any]) -> bytes:
    """Serialise a JSON payload, adding the schema version."""
    return json.dumps({"v": SCHEMA_VERSION, **data}, separators=(",", ":")).encode()
