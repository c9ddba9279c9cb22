"""Which chunks the recorder takes in at all: a known camera, within its ceilings, within memory.

Any client that may publish on the broker can send chunks (docs/broker.md), so before a
chunk costs memory or disk it passes three gates, all answered without an ack (a real
camera keeps the chunk in its spool and sends it again later):

- the camera is known: a camera agent that announced the `record` capability and that
  the owner has not removed (the hub drops removed agents' messages before this);
- the camera is within its ceilings: `MAX_BYTES_PER_MINUTE` of video and
  `MAX_EVENTS_PER_MINUTE` new events per camera; past either, chunks are refused,
  counted, logged once, and a repair issue names the camera until a minute passes
  without a refusal;
- the chunks being written fit in `MAX_PENDING_BYTES`: the core never buffers more than
  that, whatever the broker delivers at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final

from homeassistant.core import HomeAssistant

from ..agent import Agent
from ..const import LOGGER
from ..problems import create_issue, delete_issue

MAX_BYTES_PER_MINUTE: Final = 64 * 1024 * 1024  # video per camera (a 1080p main stream sends < 8 MB/min)
MAX_EVENTS_PER_MINUTE: Final = 20  # new events per camera (a real one ends an event before the next)
MAX_PENDING_BYTES: Final = 32 * 1024 * 1024  # chunks received, not yet on disk, all cameras
WINDOW: Final = 60.0
ISSUE_LIMIT_PREFIX: Final = "recording_limit_"


@dataclass(slots=True)
class _Window:
    start: float
    bytes: int = 0
    events: int = 0
    refused: int = 0
    logged: bool = False


@dataclass(slots=True)
class ChunkGate:
    """Admission of chunks: counts, logs and raises repairs; the manager only asks and tells."""

    hass: HomeAssistant
    max_bytes_per_minute: int = MAX_BYTES_PER_MINUTE
    max_events_per_minute: int = MAX_EVENTS_PER_MINUTE
    max_pending_bytes: int = MAX_PENDING_BYTES
    pending_bytes: int = 0
    unknown: int = 0  # chunks from cameras the core does not know (or that cannot record)
    over_limit: int = 0  # chunks past a camera's ceiling
    deferred: int = 0  # chunks dropped while too many bytes waited for the disk
    _windows: dict[str, _Window] = field(default_factory=dict)
    _unknown_logged: set[str] = field(default_factory=set)
    _deferred_logged: float = 0.0

    def admit(self, agent: Agent, size: int, new_event: bool) -> bool:
        """Whether to take this chunk in (the caller then calls `done(size)` once it is handled)."""
        camera = agent.agent_id
        if not agent.can_record:
            self.unknown_camera(camera)
            return False
        if self.pending_bytes + size > self.max_pending_bytes:
            self.deferred += 1
            now = time.monotonic()
            if now - self._deferred_logged > WINDOW:
                self._deferred_logged = now
                LOGGER.warning(
                    "Not taking recording chunks for now: %d MB wait to be written (camera %s's chunk "
                    "is not acknowledged; the camera sends it again)",
                    self.pending_bytes // 1048576,
                    camera,
                )
            return False
        window = self._window(camera)
        if window.bytes + size > self.max_bytes_per_minute or (
            new_event and window.events + 1 > self.max_events_per_minute
        ):
            self._refuse(camera, window)
            return False
        window.bytes += size
        window.events += new_event
        self.pending_bytes += size
        return True

    def unknown_camera(self, camera: str) -> None:
        """A chunk from a camera the core does not know, or that cannot record: counted, logged once."""
        self.unknown += 1
        if camera in self._unknown_logged or len(self._unknown_logged) >= 100:
            return
        self._unknown_logged.add(camera)
        LOGGER.warning(
            "Ignoring recording chunks from camera %s: no camera agent of that id announced the "
            "record capability (a client on the broker that is not a Bobby camera, or a camera "
            "removed in Home Assistant). Check the broker's ACL (docs/broker.md)",
            camera,
        )

    def done(self, size: int) -> None:
        """A chunk admitted is stored, refused or failed: its bytes no longer wait."""
        self.pending_bytes -= size

    def _window(self, camera: str) -> _Window:
        now = time.monotonic()
        window = self._windows.get(camera)
        if window is None or now - window.start >= WINDOW:
            if window is not None and window.refused == 0:
                delete_issue(self.hass, f"{ISSUE_LIMIT_PREFIX}{camera}")
            window = self._windows[camera] = _Window(now)
        return window

    def _refuse(self, camera: str, window: _Window) -> None:
        self.over_limit += 1
        window.refused += 1
        if window.logged:
            return
        window.logged = True
        LOGGER.warning(
            "Camera %s sends more than %d MB or %d new events a minute: its chunks are refused "
            "(not acknowledged) until the minute is over",
            camera,
            self.max_bytes_per_minute // 1048576,
            self.max_events_per_minute,
        )
        create_issue(
            self.hass,
            f"{ISSUE_LIMIT_PREFIX}{camera}",
            "recording_limit",
            {
                "camera": camera,
                "max_mb": str(self.max_bytes_per_minute // 1048576),
                "max_events": str(self.max_events_per_minute),
            },
        )
