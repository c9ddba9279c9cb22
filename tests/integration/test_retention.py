"""The retention rule, pure: old finished events go, then the oldest while over budget; never a live one."""

from __future__ import annotations

from custom_components.bobby_camera.recording.retention import select_for_deletion
from custom_components.bobby_camera.recording.store import (
    CUT_SHORT,
    ENDED,
    RECORDING,
    ChunkRecord,
    EventRecord,
)

DAY = 86400.0
NOW = 1_795_000_000.0


def event(name: str, days_ago: float, size: int, state: str = ENDED) -> EventRecord:
    record = EventRecord("porch", name, "2026-11-18", NOW - days_ago * DAY, state=state)
    record.chunks[0] = ChunkRecord(record.event_start, 10.0, size)
    return record


def names(records: list[EventRecord]) -> list[str]:
    return [r.event for r in records]


def test_older_than_the_days_to_keep_are_deleted() -> None:
    events = [event("old", 20, 10), event("cut", 15, 10, CUT_SHORT), event("new", 1, 10)]
    assert names(select_for_deletion(events, now=NOW, keep_days=14, max_bytes=10**9)) == ["old", "cut"]


def test_oldest_first_until_the_new_chunk_fits() -> None:
    events = [event("a", 3, 100), event("b", 2, 100), event("c", 1, 100)]
    assert names(select_for_deletion(events, now=NOW, keep_days=14, max_bytes=300)) == []
    assert names(select_for_deletion(events, now=NOW, keep_days=14, max_bytes=300, incoming=50)) == ["a"]
    assert names(select_for_deletion(events, now=NOW, keep_days=14, max_bytes=120, incoming=50)) == [
        "a",
        "b",
        "c",
    ]


def test_an_event_still_recording_is_never_deleted() -> None:
    events = [event("live", 30, 1000, RECORDING), event("done", 1, 10)]
    assert names(select_for_deletion(events, now=NOW, keep_days=14, max_bytes=100)) == ["done"]
