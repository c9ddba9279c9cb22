"""Retention: finished events older than the days to keep go, then the oldest while over the disk budget.

`select_for_deletion` is the rule, pure, so it is tested without a disk: an event still
recording is never chosen, whatever its age or size (its camera is still sending it).
`Retention` applies it every hour, after each clip, and before a chunk that would not fit.
"""

from __future__ import annotations

import errno
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_track_time_interval

from ..const import CLIP_CHANNEL, LOGGER
from .disk import StorageFullError
from .index import ClipIndex
from .store import EventRecord

CLEANUP_EVERY: Final = timedelta(hours=1)


def select_for_deletion(
    records: Iterable[EventRecord],
    *,
    now: float,
    keep_days: float,
    max_bytes: int,
    incoming: int = 0,
    camera: str | None = None,
) -> list[EventRecord]:
    """Events to delete: those received more than `keep_days` ago, then room for `incoming` bytes.

    Ages and order come from `EventRecord.received`: never later than the core got the event
    (a sender's date in the future is ignored). Room is
    made fairly: while over `max_bytes`, the oldest finished event of the camera that uses
    the most goes, and only from cameras above an equal share of the budget — one camera's
    flood (`camera`, which sends `incoming`) does not delete another camera's clips.
    """
    everything = list(records)
    cutoff = now - keep_days * 86400
    chosen = [r for r in everything if not r.recording and r.received < cutoff]
    kept = [r for r in everything if r not in chosen]
    used: dict[str, int] = defaultdict(int)
    for record in kept:
        used[record.camera] += record.stored_bytes
    if camera is not None:
        used[camera] += incoming
    total = sum(used.values()) + (incoming if camera is None else 0)
    if total <= max_bytes:
        return chosen
    share = max_bytes / len(used) if camera is not None else 0.0  # the hourly cleanup: heaviest first
    deletable: dict[str, list[EventRecord]] = defaultdict(list)
    for record in sorted((r for r in kept if not r.recording), key=lambda r: r.received):
        deletable[record.camera].append(record)
    while total > max_bytes:
        candidates = [c for c in used if deletable[c] and used[c] > share]
        if not candidates:
            break  # what is left is recording, or within its camera's share
        heaviest = max(candidates, key=lambda c: used[c])
        record = deletable[heaviest].pop(0)
        chosen.append(record)
        used[heaviest] -= record.stored_bytes
        total -= record.stored_bytes
    return chosen


class Retention:
    """Deletes old clips of one hub and keeps their disk use within the budget."""

    def __init__(
        self, index: ClipIndex, *, keep_days: float, max_bytes: int, busy: Callable[[EventRecord], bool]
    ) -> None:
        """`busy(record)`: whether the event's clip is being assembled (it is not deleted then)."""
        self.index = index
        self.keep_days = keep_days
        self.max_bytes = max_bytes
        self._busy = busy
        self._unsubscribe: CALLBACK_TYPE | None = None

    @callback
    def async_start(self) -> None:
        """Clean up now and every hour."""
        self._unsubscribe = async_track_time_interval(self.index.hass, self._timer, CLEANUP_EVERY)
        self.index.links.background(self.async_cleanup(), "cleanup")

    @callback
    def async_stop(self) -> None:
        """Stop the hourly cleanup."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @callback
    def _timer(self, _now: Any) -> None:
        self.index.links.background(self.async_cleanup(), "cleanup")

    async def async_cleanup(self, incoming: int = 0, camera: str | None = None) -> None:
        """Delete finished events older than the days to keep, then the oldest while over the budget."""
        index = self.index
        doomed = select_for_deletion(
            index.events.values(),
            now=time.time(),
            keep_days=self.keep_days,
            max_bytes=self.max_bytes,
            incoming=incoming,
            camera=camera,
        )
        for record in doomed:
            if record.recording or self._busy(record):
                continue  # reopened by a late chunk meanwhile
            index.forget(record.key)
            LOGGER.info("Deleting recorded event %s of camera %s (retention)", record.event, record.camera)
            await index.hass.async_add_executor_job(index.store.delete, record)
        if doomed:
            for agent in index.links.agents.values():
                clip = agent.last_clip
                if clip is not None and (agent.agent_id, clip["event"]) not in index.events:
                    agent.last_clip = None
                    index.refresh_last_clip(agent)
                    index.links.signals.refresh(agent, CLIP_CHANNEL, hub_wide=False)

    async def async_make_room(self, size: int, camera: str | None = None) -> None:
        """Delete old finished events until `size` more bytes of `camera` fit; else StorageFullError."""
        if self.index.used_bytes + size <= self.max_bytes:
            return
        await self.async_cleanup(incoming=size, camera=camera)
        if self.index.used_bytes + size > self.max_bytes:
            raise StorageFullError(errno.ENOSPC, "the maximum disk use for clips is reached")
