"""Constants of the Bobby Camera integration."""

from __future__ import annotations

import logging
from typing import Final

from . import protocol

DOMAIN: Final = "bobby_camera"
LOGGER = logging.getLogger(__package__)

CONF_BASE_TOPIC: Final = "base_topic"
CONF_THRESHOLD: Final = "threshold"
CONF_TRIGGER_AFTER: Final = "trigger_after"
CONF_CLEAR_AFTER: Final = "clear_after"
CONF_COMMAND_TIMEOUT: Final = "command_timeout"
CONF_RETENTION_DAYS: Final = "retention_days"
CONF_MAX_DISK_MB: Final = "max_disk_mb"
CONF_MAX_AGENTS: Final = "max_agents"
CONF_OFFLINE_GRACE: Final = "offline_grace"
CONF_LIVE_FPS: Final = "live_fps"
# Cameras whose RTSP stream Home Assistant may play itself: {camera id: {username, password}}.
CONF_NATIVE_VIDEO: Final = "native_video"
CONF_CAMERA: Final = "camera"
CONF_ALLOW: Final = "allow"
CONF_ALLOW_DISARM_WITH_PERSON: Final = "allow_disarm_with_person"
CONF_SELFTEST_INTERVAL: Final = "selftest_interval"

DEFAULT_BASE_TOPIC: Final = protocol.DEFAULT_BASE_TOPIC
DEFAULT_THRESHOLD: Final = 0.5
DEFAULT_TRIGGER_AFTER: Final = 0.0
DEFAULT_CLEAR_AFTER: Final = 30.0
DEFAULT_COMMAND_TIMEOUT: Final = 10.0
DEFAULT_RETENTION_DAYS: Final = 14.0
DEFAULT_MAX_DISK_MB: Final = 10240.0
# New agents from the bus are capped: a flood of made-up ids must not fill HA's registries.
DEFAULT_MAX_AGENTS: Final = 64
# An `offline` lasting this long becomes a problem (a Wi-Fi blip pages nobody).
DEFAULT_OFFLINE_GRACE: Final = 30.0
# Live view (live.py): the rate asked of a watched camera (the agent caps it at its own
# `live_max_fps`), the lease it holds, how often the lease is renewed while someone
# watches, and how often the still picture is sent while no live frame comes.
DEFAULT_LIVE_FPS: Final = 10.0
LIVE_LEASE: Final = 15.0  # a camera whose core died is back to normal within this
LIVE_RENEW_EVERY: Final = 5.0  # three renewals per lease: one lost message is harmless
LIVE_FALLBACK_EVERY: Final = 2.0
# The detector self-test, every this many seconds while a detector is online and enabled
# (and at once when it becomes so). One test costs a detector one frame's analysis: 26 ms of
# CPU on the test machine, so 0.044 % of one core (docs/performance.md).
DEFAULT_SELFTEST_INTERVAL: Final = 60.0

# The base topic is connection data (entry.data, changed by reconfigure); these are options.
DEFAULT_OPTIONS: Final = {
    CONF_THRESHOLD: DEFAULT_THRESHOLD,
    CONF_TRIGGER_AFTER: DEFAULT_TRIGGER_AFTER,
    CONF_CLEAR_AFTER: DEFAULT_CLEAR_AFTER,
    CONF_COMMAND_TIMEOUT: DEFAULT_COMMAND_TIMEOUT,
    CONF_RETENTION_DAYS: DEFAULT_RETENTION_DAYS,
    CONF_MAX_DISK_MB: DEFAULT_MAX_DISK_MB,
    CONF_MAX_AGENTS: DEFAULT_MAX_AGENTS,
    CONF_OFFLINE_GRACE: DEFAULT_OFFLINE_GRACE,
    CONF_LIVE_FPS: DEFAULT_LIVE_FPS,
    CONF_ALLOW_DISARM_WITH_PERSON: False,
    CONF_SELFTEST_INTERVAL: DEFAULT_SELFTEST_INTERVAL,
}

# Channels whose messages change what the agents' own entities show. Entities list the
# channels they read, so a detection refreshes the person entities, not every entity.
AGENT_CHANNELS: Final = frozenset({"status", "info", "state", "stats", "ack"})
DETECTION_CHANNELS: Final = frozenset({"detection"})
# Not an MQTT channel: the recorder's signal that a camera's clips changed.
CLIP_CHANNEL: Final = "clip"

# An agent is silent after this many missed stats intervals (docs/protocol.md).
MISSED_HEARTBEATS: Final = 3
# Heartbeat period assumed for an agent that says `online` but never announced its own:
# it is still reported silent, after a bounded time.
UNANNOUNCED_STATS_INTERVAL: Final = 60.0

EVENT_PERSON_DETECTED: Final = "bobby_camera_person_detected"
# An object the owner picked besides person (a car, a dog) appeared; data: label, zones, count.
EVENT_OBJECT_DETECTED: Final = "bobby_camera_object_detected"
EVENT_AGENT_PROBLEM: Final = "bobby_camera_agent_problem"
EVENT_CLIP_READY: Final = "bobby_camera_clip_ready"
# The person event entity's event type when an event's clip is ready.
CLIP_READY: Final = "clip_ready"

# Problems an agent can have, in the order a repair issue reports them.
PROBLEM_OFFLINE: Final = "offline"
PROBLEM_SILENT: Final = "silent"
PROBLEM_COMMAND_TIMEOUT: Final = "command_timeout"
PROBLEM_STATE_MISMATCH: Final = "state_mismatch"
# A detector that failed the core's self-test (selftest.py): it does not see a known person.
PROBLEM_BLIND: Final = "blind"
PROBLEMS: Final = (
    PROBLEM_OFFLINE,
    PROBLEM_SILENT,
    PROBLEM_COMMAND_TIMEOUT,
    PROBLEM_STATE_MISMATCH,
    PROBLEM_BLIND,
)
# Problems an agent reports itself (stats `problems`, docs/protocol.md) come after these,
# keyed by their code; the problem event entity fires them as this one event type.
PROBLEM_REPORTED: Final = "reported"

# Repair issues of the hub itself (not of one agent).
ISSUE_AGENT_LIMIT: Final = "agent_limit"
ISSUE_COMMAND_ALL: Final = "command_all_failed"
# Many agents with the same problem: one summary issue per problem (`many_<problem>`).
ISSUE_MANY_PREFIX: Final = "many_"
FOLD_AT: Final = 3

ATTR_DEVICE_ID: Final = "device_id"
ATTR_ENABLED: Final = "enabled"
SERVICE_REQUEST_PREVIEW: Final = "request_preview"
SERVICE_SET_ENABLED: Final = "set_enabled"
SERVICE_SET_ZONES: Final = "set_zones"
ATTR_ZONES: Final = "zones"
ATTR_MASKS: Final = "masks"
ATTR_OBJECTS: Final = "objects"
SERVICE_RECORD_CLIP: Final = "record_clip"
ATTR_DURATION: Final = "duration"
DEFAULT_RECORD_SECONDS: Final = 30.0

# Seconds a state may differ from the desired one beyond the command timeout before it
# is a problem: a re-assertion had its chance, and its own timeout is reported first.
MISMATCH_MARGIN: Final = 1.0
# Re-sending the desired state to an agent that keeps differing backs off: the command
# timeout, then twice as long each time, up to this many seconds.
REASSERT_BACKOFF_MAX: Final = 300.0
# Home Assistant's own MQTT connection: an outage longer than this is a repair issue, and
# after the connection returns this long lets the retained reports arrive before any
# agent's deadline runs again.
BROKER_GRACE: Final = 30.0
BROKER_SETTLE: Final = 3.0
ISSUE_BROKER: Final = "broker_unreachable"
# The detectors cannot keep up with the cameras (capacity.py).
ISSUE_CAPACITY: Final = "detection_capacity"

# --- Coverage: is each camera watched (issue 22; coverage.py, watching.py) ---------------
EVENT_COVERAGE_GAP: Final = "bobby_camera_coverage_gap"
# Why a camera was not watched, most telling first: a gap that saw several reports the first.
GAP_CAMERA_TAMPERED: Final = "camera_tampered"
GAP_CAMERA_OFF: Final = "camera_off"
GAP_CAMERA_SILENT: Final = "camera_silent"
GAP_DETECTOR_OVERLOADED: Final = "detector_overloaded"
GAP_NO_DETECTOR: Final = "no_detector"
GAP_CAUSES: Final = (
    GAP_CAMERA_TAMPERED,
    GAP_CAMERA_OFF,
    GAP_CAMERA_SILENT,
    GAP_DETECTOR_OVERLOADED,
    GAP_NO_DETECTOR,
)
# The bound (docs/home-assistant.md, "Watched"): frames analysed within
# 2 × the detectors' stats interval + 3 × the camera's frame interval + 1 s.
WATCH_REPORTS: Final = 2  # detector stats intervals: one report may be lost (QoS 0)
WATCH_FRAMES: Final = 3  # camera frame intervals: two frames may be lost or dropped
WATCH_SLACK: Final = 1.0  # seconds of delivery and scheduling jitter
# Assumed when no detector is online to announce its interval (the agents' default).
DEFAULT_DETECTOR_INTERVAL: Final = 10.0
# Assumed for a camera whose rate is unknown (it never announced one): the slowest allowed.
UNKNOWN_FRAME_INTERVAL: Final = 10.0
COVERAGE_WINDOW_HOURS: Final = 24
# Not an MQTT channel: watching.py's signal that a camera's Watched or Coverage changed.
COVERAGE_CHANNEL: Final = "coverage"

# --- Verified arming: the alarm panel (issue 22; arming.py) ------------------------------
ARMED_MODES: Final = ("armed_away", "armed_home")
ISSUE_ARMING_UNVERIFIED: Final = "arming_unverified"

# The detector self-test (selftest.py, docs/protocol.md "selftest"); its period is an option.
# A box passes when it overlaps the placed person by at least this intersection over union
# (PASCAL VOC's criterion for a correct detection; the default model reaches 0.76-0.95).
SELFTEST_MIN_IOU: Final = 0.5
# Why a self-test failed: the suffix of the `blind_<cause>` repair issue's translation key.
BLIND_NO_ANSWER: Final = "no_answer"
BLIND_NO_PERSON: Final = "no_person"
BLIND_WRONG_PLACE: Final = "wrong_place"
BLIND_FAILED: Final = "failed"
BLIND_CAUSES: Final = (BLIND_NO_ANSWER, BLIND_NO_PERSON, BLIND_WRONG_PLACE, BLIND_FAILED)
