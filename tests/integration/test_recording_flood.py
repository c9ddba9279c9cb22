"""A client on the broker that floods or forges chunks (issue 20, finding 3), with real chunks.

Only cameras the core knows record; a known camera past its ceilings is refused (no ack,
counted, one log line, a repair); a sender's clock orders nothing; a chunk numbered
999999 gives a short log line.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bobby_edge import protocol
from custom_components.bobby_camera.const import DOMAIN
from custom_components.bobby_camera.recording import assembly
from tests.support.chunks import make_event
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

from .recording_helpers import CAMERA, FakeCameraLink, until

FPS = 10.0


async def test_chunks_of_a_camera_the_core_does_not_know_are_not_taken(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    broker: Mosquitto,
    media_dir: Path,
    device_registry: dr.DeviceRegistry,
) -> None:
    """`ghost` never announced itself: its chunks are not stored, not acked, and give it no device."""
    ghost = await hass.async_add_executor_job(Probe, broker.port, broker.host)
    await hass.async_add_executor_job(ghost.subscribe, "bobby/camera/ghost/chunk_ack")
    recordings = hub_entry.runtime_data.recordings
    try:
        chunks = make_event("ghost", "20261125-134510-dead01", chunks=3, seconds=1.0, fps=FPS)
        for chunk in chunks:
            await hass.async_add_executor_job(ghost.publish, "bobby/camera/ghost/chunk", chunk.payload)
        await until(lambda: recordings.gate.unknown >= 3, "the chunks are turned away")
        await hass.async_block_till_done()
        assert not any(camera_id == "ghost" for camera_id, _ in recordings.events)
        assert not (media_dir / "bobby_camera" / "ghost").exists()
        assert [m for m in ghost.messages if m.topic.endswith("chunk_ack")] == []
        devices = dr.async_entries_for_config_entry(device_registry, hub_entry.entry_id)
        assert not [d for d in devices if "ghost" in str(d.identifiers)]
    finally:
        await hass.async_add_executor_job(ghost.close)


async def test_a_camera_past_its_ceiling_is_refused_counted_logged_once_and_repaired(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Events per minute over the ceiling: the excess chunks get no ack, one warning, a repair."""
    recordings = hub_entry.runtime_data.recordings
    recordings.gate.max_events_per_minute = 2
    recordings.gate._windows.clear()  # the warm-up event of the fixture counted
    since = camera.mark()
    events = [f"20261125-1346{i:02d}-f100{i:02d}" for i in range(5)]
    for event in events:
        (chunk,) = make_event(CAMERA, event, chunks=1, seconds=1.0, fps=FPS)
        await camera.send(chunk.payload)
    await until(lambda: recordings.gate.over_limit >= 3, "the chunks past the ceiling are refused")
    await until(lambda: len(camera.acks(since)) >= 2, "the first events' chunks are acked")
    await hass.async_block_till_done()
    assert sorted(ack["event"] for ack in camera.acks(since)) == events[:2]
    assert recordings.gate.over_limit == 3
    assert set(recordings.events) >= {(CAMERA, e) for e in events[:2]}
    assert not set(recordings.events) & {(CAMERA, e) for e in events[2:]}
    assert caplog.text.count("new events a minute") == 1
    issue = issue_registry.async_get_issue(DOMAIN, f"recording_limit_{CAMERA}")
    assert issue is not None
    assert issue.translation_placeholders["camera"] == CAMERA
    assert recordings.diagnostics()["chunks_over_limit"] == recordings.gate.over_limit


async def test_a_sender_dating_its_event_in_2100_does_not_get_it_listed_first(
    hass: HomeAssistant, hub_entry: MockConfigEntry, camera: FakeCameraLink, media_dir: Path
) -> None:
    """The core orders by what it saw: an event claiming 2100 starts when it was received."""
    (chunk,) = make_event(
        CAMERA, "21000101-000000-aaaaaa", chunks=1, seconds=1.0, fps=FPS, start=4_102_444_800.0
    )
    before = time.time()
    await camera.deliver(chunk.payload, "21000101-000000-aaaaaa", 0)
    record = hub_entry.runtime_data.recordings.events[(CAMERA, "21000101-000000-aaaaaa")]
    assert before - 1 <= record.event_start <= time.time()
    assert record.received_at is not None
    assert before - 1 <= record.received_at <= time.time()
    assert not record.day.startswith("2100")
    assert not any(p.name.startswith("2100") for p in (media_dir / "bobby_camera" / CAMERA).iterdir())


async def test_a_chunk_numbered_999999_gives_a_short_log_line(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One small chunk claims to be the millionth: the cut-short line summarises the gap, no stall."""
    monkeypatch.setattr(assembly, "CUT_SHORT_AFTER", 0.5)
    caplog.set_level(logging.DEBUG)
    event = "20261125-134800-bbbbbb"
    (chunk,) = make_event(CAMERA, event, chunks=1, seconds=1.0, fps=FPS, last=False)
    header = {**chunk.header, "seq": protocol.MAX_CHUNK_SEQ}
    await camera.deliver(protocol.encode_chunk(header, chunk.video), event, protocol.MAX_CHUNK_SEQ)
    await until(lambda: "cut short" in caplog.text, "the event is cut short")
    await hass.async_block_till_done()
    ours = [r for r in caplog.records if r.name.startswith("custom_components.bobby_camera")]
    longest = max(ours, key=lambda r: len(r.getMessage()))
    assert len(longest.getMessage()) < 2000, (longest.name, longest.getMessage()[:300])
    assert "0-999998 (999999 missing)" in caplog.text


async def test_a_camera_that_does_not_receive_its_acks_gets_a_repair(
    hass: HomeAssistant, hub_entry: MockConfigEntry, camera: FakeCameraLink, issue_registry: ir.IssueRegistry
) -> None:
    """Issue 20 (1): a camera whose login may not read chunk_ack (acl_file does not refuse the
    subscription, so the camera cannot tell) sends its stored chunks again and again: a repair
    names the topic and the right; a new chunk (the acks arrive again) clears it."""
    event = "20261125-134900-cccccc"
    chunks = make_event(CAMERA, event, chunks=2, seconds=1.0, fps=FPS)
    issue_id = f"chunk_ack_unread_{CAMERA}"
    for _ in range(4):  # stored, then sent again three times
        await camera.deliver(chunks[0].payload, event, 0)
    issue = await until(lambda: issue_registry.async_get_issue(DOMAIN, issue_id), "the repair")
    assert issue.translation_placeholders["topic"] == f"bobby/camera/{CAMERA}/chunk_ack"
    await camera.deliver(chunks[1].payload, event, 1)
    await until(lambda: issue_registry.async_get_issue(DOMAIN, issue_id) is None, "the repair clears")
