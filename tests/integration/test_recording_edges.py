"""Recording's less travelled paths through a real Mosquitto with real libx264 chunks.

Contradictory last chunks, an event closed by an empty chunk, chunks that are MPEG-TS
but hold no video, detection snapshots before and during an event, a clip older than
the days to keep, a restart between the last chunk and the clip, a folder that stays
unwritable.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from bobby_edge import protocol
from custom_components.bobby_camera.const import DOMAIN, EVENT_CLIP_READY
from custom_components.bobby_camera.recording.store import (
    CLIP_FILE,
    ENDED,
    ChunkRecord,
    ClipStore,
    EventRecord,
)
from tests.support.chunks import Chunk, decoded_duration, make_event

from .common import JPEG
from .recording_helpers import CAMERA, FakeCameraLink, until

FPS = 10.0
EVENT = "20261125-134510-a3f09c"
NO_VIDEO = (b"G" + b"\xff" * 187) * 4  # MPEG-TS packets (sync bytes right), nothing in them


def event_dir(media_dir: Path, event: str) -> Path:
    return next((media_dir / "bobby_camera" / CAMERA).glob(f"*/{event}"))


async def send_all(camera: FakeCameraLink, chunks: list[Chunk]) -> None:
    for chunk in chunks:
        ack = await camera.deliver(chunk.payload, chunk.header["event"], chunk.header["seq"])
        assert "ok" not in ack, ack


async def refusal(camera: FakeCameraLink, header: dict[str, object], video: bytes) -> str:
    since = camera.mark()
    await camera.send(protocol.encode_chunk(header, video))
    ack = await camera.ack(str(header["event"]), int(str(header["seq"])), since=since)
    assert ack["ok"] is False
    return str(ack["error"])


async def test_an_empty_closing_chunk_ends_the_event_and_contradicting_last_chunks_are_refused(
    hass: HomeAssistant, hub_entry: MockConfigEntry, camera: FakeCameraLink, media_dir: Path
) -> None:
    """Chunks 0 and 1, then an empty last chunk 2: one clip of both; a last chunk 0 or 1 is refused."""
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    chunks = make_event(chunks=2, seconds=1.0, fps=FPS, last=False)
    await send_all(camera, chunks)

    # A last chunk below one already stored: the camera contradicts itself; refused for good.
    error = await refusal(camera, {**chunks[0].header, "last": True}, chunks[0].video)
    assert error == "last chunk 0 comes before chunk 1, already stored"

    # The empty closing chunk (the camera had no more video): acknowledged, the event ends.
    closing = {**chunks[1].header, "seq": 2, "last": True, "duration": 0}
    assert "ok" not in await camera.deliver(protocol.encode_chunk(closing, b""), EVENT, 2)
    await until(lambda: ready, "the clip is ready")
    record = hub_entry.runtime_data.recordings.events[(CAMERA, EVENT)]
    assert (record.state, record.last_seq, sorted(record.chunks)) == (ENDED, 2, [0, 1])
    assert decoded_duration(str(event_dir(media_dir, EVENT) / CLIP_FILE), FPS)[0] == 20

    # Now chunk 1 claims to be the last: a second last chunk, refused; nothing changes.
    error = await refusal(camera, {**chunks[1].header, "last": True}, chunks[1].video)
    assert error == "a second last chunk (1; the last was 2)"
    assert (record.state, record.last_seq) == (ENDED, 2)
    assert len(ready) == 1


async def test_chunks_without_video_are_kept_but_give_no_clip(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    media_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """MPEG-TS with no video stream: stored and acknowledged (the camera may drop it), a log line, no clip."""
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    header = {**make_event(chunks=1, seconds=1.0, fps=FPS)[0].header, "event": "e-empty"}
    await send_all(camera, [Chunk(header, NO_VIDEO)])
    await until(lambda: "No clip for event e-empty of camera porch" in caplog.text, "the log line")
    await hass.async_block_till_done()

    record = hub_entry.runtime_data.recordings.events[(CAMERA, "e-empty")]
    assert (record.state, record.has_clip, record.finished_at) == (ENDED, False, None)
    assert sorted(p.name for p in event_dir(media_dir, "e-empty").iterdir()) == [
        "chunk-000000.ts",
        "event.json",
    ]
    assert ready == []
    assert hub_entry.runtime_data.recordings.last_clip(CAMERA) is None


async def test_detection_snapshots_become_the_event_thumbnails(
    hass: HomeAssistant, hub_entry: MockConfigEntry, camera: FakeCameraLink, media_dir: Path
) -> None:
    """A snapshot during an event, or just before its first chunk, is its thumbnail (not the first frame)."""
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    now = time.time()
    during = make_event(event="e-during", chunks=2, seconds=1.0, fps=FPS, start=now)
    await send_all(camera, during[:1])
    await hass.async_add_executor_job(camera.probe.publish, f"bobby/camera/{CAMERA}/snapshot", JPEG)
    folder = event_dir(media_dir, "e-during")
    await until((folder / "snapshot.jpg").is_file, "the snapshot is saved")
    await send_all(camera, during[1:])
    await until(lambda: ready, "the clip is ready")
    assert (folder / "snapshot.jpg").read_bytes() == JPEG
    assert ready[0].data["snapshot_url"].endswith("/e-during/snapshot.jpg")

    # The next event starts just after that snapshot arrived: it is this event's thumbnail too.
    after = make_event(event="e-after", chunks=1, seconds=1.0, fps=FPS, start=now + 5)
    await send_all(camera, after)
    await until(lambda: len(ready) == 2, "the second clip is ready")
    assert (event_dir(media_dir, "e-after") / "snapshot.jpg").read_bytes() == JPEG


@pytest.mark.parametrize("options", [{"retention_days": 1}])
async def test_a_clip_older_than_the_days_to_keep_is_deleted_and_last_clip_cleared(
    hass: HomeAssistant, hub_entry: MockConfigEntry, camera: FakeCameraLink, media_dir: Path
) -> None:
    """A camera's spool delivers an event from a week ago: its clip is made, then retention deletes it."""
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    old = make_event(event="e-old", chunks=1, seconds=1.0, fps=FPS, start=time.time() - 7 * 86400)
    await send_all(camera, old)
    await until(lambda: ready, "the clip is ready")
    recordings = hub_entry.runtime_data.recordings
    await until(lambda: (CAMERA, "e-old") not in recordings.events, "retention deletes the event")
    # The index forgets it first, then the folder goes (an executor job), the camera's with it.
    await until(lambda: not (media_dir / "bobby_camera" / CAMERA).exists(), "the folder is deleted")
    agent = hub_entry.runtime_data.agents[f"camera_{CAMERA}"]
    # The cleanup clears the Last clip once its executor job returns: after the folder went.
    await until(lambda: agent.last_clip is None, "the camera's last clip forgotten")
    await until(lambda: hass.states.get("sensor.porch_last_clip").state == "unknown", "Last clip clears")


async def test_an_unwritable_folder_raises_one_repair_for_many_chunks(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    media_dir: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Every chunk fails while the folder is unwritable: none is acknowledged, one repair issue stays."""
    (media_dir / "bobby_camera").write_text("not a folder")
    recordings = hub_entry.runtime_data.recordings
    since = camera.mark()
    for chunk in make_event(chunks=3, seconds=1.0, fps=FPS):
        await camera.send(chunk.payload)
    await until(lambda: recordings.chunks_unstored >= 3, "all three failed")
    assert camera.acks(since) == []
    issues = [i for (domain, _), i in issue_registry.issues.items() if domain == DOMAIN]
    assert [i.translation_key for i in issues] == ["storage_error"]
    assert recordings.diagnostics()["storage_problem"] == "storage_error"


async def test_a_restart_between_last_chunk_and_clip_assembles_it_at_start(
    hass: HomeAssistant, media_dir: Path, mqtt_mock: MqttMockHAClient, mock_config_entry: MockConfigEntry
) -> None:
    """event.json says ended, every chunk is on disk, no clip yet: the hub assembles it when it starts."""
    store = ClipStore(media_dir / "bobby_camera")
    chunks = make_event(chunks=2, seconds=1.0, fps=FPS, start=time.time())
    record = EventRecord(CAMERA, EVENT, time.strftime("%Y-%m-%d"), chunks[0].header["event_start"])
    record.state, record.last_seq = ENDED, 1

    def write() -> None:
        for chunk in chunks:
            record.chunks[chunk.header["seq"]] = ChunkRecord(chunk.header["start"], 1.0, len(chunk.video))
            store.write_chunk(record, chunk.header["seq"], chunk.video, record.dump())

    await hass.async_add_executor_job(write)
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await until(lambda: ready, "the clip is ready")

    assert ready[0].data["device_id"] is None  # the camera has not announced itself since the restart
    assert ready[0].data["cut_short"] is False
    folder = store.event_dir(record)
    assert decoded_duration(str(folder / CLIP_FILE), FPS)[0] == 20
    assert (folder / "snapshot.jpg").read_bytes()[:2] == b"\xff\xd8"  # the first frame
    (reloaded,) = await hass.async_add_executor_job(store.load)
    assert reloaded.has_clip
    assert reloaded.finished_at is not None
    await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_a_snapshot_that_cannot_be_saved_leaves_the_clip_without_thumbnail(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    media_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """snapshot.jpg cannot be written (a folder in its way): a log line; the clip is ready, no thumbnail."""
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    chunks = make_event(chunks=2, seconds=1.0, fps=FPS, start=time.time())
    await send_all(camera, chunks[:1])
    folder = event_dir(media_dir, EVENT)
    (folder / "snapshot.jpg").mkdir()
    await hass.async_add_executor_job(camera.probe.publish, f"bobby/camera/{CAMERA}/snapshot", JPEG)
    await until(lambda: "Could not save the snapshot of event" in caplog.text, "the log line")
    await send_all(camera, chunks[1:])
    await until(lambda: ready, "the clip is ready")
    assert ready[0].data["snapshot_url"] is None
    assert decoded_duration(str(folder / CLIP_FILE), FPS)[0] == 20
    assert (folder / "snapshot.jpg").is_dir()


async def test_a_clip_that_cannot_be_written_raises_a_repair(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    media_dir: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The chunk is stored and acknowledged, but clip.mp4 cannot be replaced: a repair, no clip_ready."""
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    chunks = make_event(chunks=2, seconds=1.0, fps=FPS, last=False)
    await send_all(camera, chunks[:1])
    recordings = hub_entry.runtime_data.recordings
    record = recordings.events[(CAMERA, EVENT)]
    await until(lambda: record.has_clip, "the clip of the first chunk")
    folder = event_dir(media_dir, EVENT)
    (folder / CLIP_FILE).unlink()
    (folder / CLIP_FILE).mkdir()  # in the way of the next assembly's rename
    await send_all(camera, chunks[1:])
    issue = await until(lambda: issue_registry.async_get_issue(DOMAIN, "clip_storage"), "a repair issue")
    assert issue.translation_key == "storage_error"
    # A clip of fewer chunks is no longer offered (issue 20): its file goes first, then the record.
    await until(lambda: not record.has_clip, "the stale clip is dropped")
    assert ready == []
