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


def camera_event(
    camera: str, name: str, received_days_ago: float, size: int, claimed: float = 0.0
) -> EventRecord:
    record = EventRecord(camera, name, "2026-11-18", claimed or NOW - received_days_ago * DAY, state=ENDED)
    record.received_at = NOW - received_days_ago * DAY
    record.chunks[0] = ChunkRecord(record.event_start, 10.0, size)
    return record


def test_one_cameras_flood_does_not_delete_another_cameras_clips() -> None:
    """Issue 20 (3a): `ghost` fills the budget; room for its next chunk comes from its own events only."""
    real = [camera_event("porch", f"p{i}", 10 - i, 100) for i in range(3)]
    flood = [camera_event("ghost", f"g{i}", 0.01 * (5 - i), 200) for i in range(5)]
    chosen = select_for_deletion(
        [*real, *flood], now=NOW, keep_days=14, max_bytes=1300, incoming=200, camera="ghost"
    )
    assert names(chosen) == ["g0"]
    # A camera with nothing stored takes room from another only down to that camera's equal share.
    assert names(
        select_for_deletion(real, now=NOW, keep_days=14, max_bytes=300, incoming=200, camera="ghost")
    ) == ["p0", "p1"]
    assert names(
        select_for_deletion(real, now=NOW, keep_days=14, max_bytes=300, incoming=400, camera="ghost")
    ) == ["p0", "p1"]  # porch keeps its half; ghost's chunk does not fit (StorageFullError, no ack)
    # porch over its share: its own oldest goes.
    chosen = select_for_deletion(
        [*real, *flood[:1]], now=NOW, keep_days=14, max_bytes=500, incoming=100, camera="porch"
    )
    assert names(chosen) == ["p0"]


def test_ages_are_the_time_received_not_the_time_claimed() -> None:
    """Issue 20 (3c): an event claiming 2100 ages from when it was received; a claim of the past
    (a spool delivering last week's event) ages only that event sooner."""
    future = camera_event("porch", "future", 20, 10, claimed=4_102_444_800.0)
    recent = camera_event("porch", "recent", 1, 10, claimed=4_102_444_800.0)
    past = camera_event("porch", "past", 0.1, 10, claimed=NOW - 20 * DAY)
    chosen = select_for_deletion([future, recent, past], now=NOW, keep_days=14, max_bytes=10**9)
    assert names(chosen) == ["future", "past"]
