"""Retention: finished events older than the days to keep go, then the oldest while over the disk budget.

`select_for_deletion` is the rule, pure, so it is tested without a disk: an event still
recording is never chosen, whatever its age or size (its camera is still sending it).
`Retention` applies it every hour, after each clip, and before a chunk that would not fit.
"""

from __future__ import annotations

import errno
import time
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
    records: Iterable[EventRecord], *, now: float, keep_days: float, max_bytes: int, incoming: int = 0
) -> list[EventRecord]:
    """Events to delete: none older than `keep_days`, and room for `incoming` more bytes in `max_bytes`."""
    everything = list(records)
    total = sum(r.stored_bytes for r in everything) + incoming
    finished = sorted((r for r in everything if not r.recording), key=lambda r: r.event_start)
    cutoff = now - keep_days * 86400
    chosen: list[EventRecord] = []
    for record in finished:
        if record.event_start < cutoff or total > max_bytes:
            chosen.append(record)
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

    async def async_cleanup(self, incoming: int = 0) -> None:
        """Delete finished events older than the days to keep, then the oldest while over the budget."""
        index = self.index
        doomed = select_for_deletion(
            index.events.values(),
            now=time.time(),
            keep_days=self.keep_days,
            max_bytes=self.max_bytes,
            incoming=incoming,
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

    async def async_make_room(self, size: int) -> None:
        """Delete old finished events until `size` more bytes fit in the budget; else StorageFullError."""
        if self.index.used_bytes + size <= self.max_bytes:
            return
        await self.async_cleanup(incoming=size)
        if self.index.used_bytes + size > self.max_bytes:
            raise StorageFullError(errno.ENOSPC, "the maximum disk use for clips is reached")
