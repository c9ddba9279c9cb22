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
