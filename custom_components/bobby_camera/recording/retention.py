"""Which finished events to delete: older than the days to keep, then the oldest while over the disk budget.

Pure, so the rule is tested without a disk. An event still recording is never chosen,
whatever its age or size: its camera is still sending it.
"""

from __future__ import annotations

from collections.abc import Iterable

from .store import EventRecord


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
