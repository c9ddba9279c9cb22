"""The media browser and the clip view over clips already on disk (what a restart finds).

Events are written the way the recorder writes them (real libx264 chunks, the remuxed
clip, event.json) before the hub starts, so the index is the one rebuilt from disk.
Browsing and resolving go through HA's media_source API, files through HA's HTTP server.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path

import pytest
from homeassistant.components import media_source
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import Unresolvable
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, MqttMockHAClient

from custom_components.bobby_camera.recording.assemble import assemble_clip
from custom_components.bobby_camera.recording.store import (
    CLIP_FILE,
    CUT_SHORT,
    ENDED,
    RECORDING,
    ChunkRecord,
    ClipStore,
    EventRecord,
)
from tests.support.chunks import make_event

ROOT = "media-source://bobby_camera"
DAY, OLDER_DAY = "2026-11-25", "2026-11-24"
START = 1_795_000_000.0
ENDED_EVENT, RECORDING_EVENT, CUT_EVENT = "e-ended", "e-recording", "e-cut"


def write_event(
    root: Path, event: str, day: str, start: float, *, state: str, clip: bool, snapshot: bool = False
) -> EventRecord:
    """One event of camera porch as the recorder leaves it on disk: chunks, event.json, clip."""
    store = ClipStore(root)
    record = EventRecord(camera="porch", event=event, day=day, event_start=start, state=state)
    for chunk in make_event(event=event, chunks=2, seconds=1.0, fps=10.0, start=start):
        seq = chunk.header["seq"]
        record.chunks[seq] = ChunkRecord(chunk.header["start"], 1.0, len(chunk.video))
        store.write_chunk(record, seq, chunk.video, record.dump())
    if clip:
        made = assemble_clip(store.chunk_files(record), store.event_dir(record) / CLIP_FILE)
        record.clip_duration, record.clip_bytes, record.clip_chunks = made.duration, made.bytes, 2
        record.finished_at = start + 60
    if snapshot:
        store.write_snapshot(record, b"\xff\xd8not much of a jpeg")
    store.write_record(record, record.dump())
    return record


@pytest.fixture
async def clips_entry(
    hass: HomeAssistant, media_dir: Path, mqtt_mock: MqttMockHAClient, mock_config_entry: MockConfigEntry
) -> AsyncGenerator[MockConfigEntry]:
    """The hub started over three events of camera porch: ended, still recording, cut short."""
    root = media_dir / "bobby_camera"
    await hass.async_add_executor_job(
        lambda: [
            write_event(root, ENDED_EVENT, DAY, START + 100, state=ENDED, clip=True, snapshot=True),
            write_event(root, RECORDING_EVENT, DAY, START + 200, state=RECORDING, clip=False),
            write_event(root, CUT_EVENT, OLDER_DAY, START, state=CUT_SHORT, clip=True),
        ]
    )
    assert await async_setup_component(hass, "media_source", {})
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    yield mock_config_entry
    # HA 2026's MQTT client subscribes 0.5 s after setup, one wildcard at a time; an unload in
    # the middle of that trips it (KeyError in _async_perform_subscriptions). Subscribe first.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(mock_config_entry.entry_id)  # the open event's timer


async def test_browse_lists_days_and_events_newest_first_with_their_state(
    hass: HomeAssistant, clips_entry: MockConfigEntry
) -> None:
    """A recording event shows it is recording and cannot play yet; a cut-short one says so."""
    root = await media_source.async_browse_media(hass, ROOT)
    assert [(c.identifier, c.title) for c in root.children or []] == [("porch", "porch")]

    days = await media_source.async_browse_media(hass, f"{ROOT}/porch")
    assert [c.title for c in days.children or []] == [DAY, OLDER_DAY]

    today = await media_source.async_browse_media(hass, f"{ROOT}/porch/{DAY}")
    assert today.title == f"porch · {DAY}"
    recording, ended = today.children or []
    assert recording.identifier == f"porch/{DAY}/{RECORDING_EVENT}"
    assert recording.title.endswith(" · … · recording")
    assert (recording.can_play, recording.thumbnail) == (False, None)
    assert ended.title.endswith(" · 0:02")
    assert ended.can_play is True
    assert ended.thumbnail == f"/api/bobby_camera/recordings/porch/{DAY}/{ENDED_EVENT}/snapshot.jpg"

    (cut,) = (await media_source.async_browse_media(hass, f"{ROOT}/porch/{OLDER_DAY}")).children or []
    assert cut.title.endswith(" · 0:02 · cut short")

    # One event by its id: the same item the day folder lists.
    item = await media_source.async_browse_media(hass, f"{ROOT}/porch/{DAY}/{ENDED_EVENT}")
    assert (item.identifier, item.title, item.can_play) == (ended.identifier, ended.title, True)


@pytest.mark.parametrize(
    ("identifier", "message"),
    [
        ("garden", "No recordings of camera garden"),
        ("porch/2020-01-01", "No recordings of camera porch on 2020-01-01"),
        (f"porch/{DAY}/e-never", f"Unknown recording porch/{DAY}/e-never"),
        (f"porch/{OLDER_DAY}/{ENDED_EVENT}", "Unknown recording"),  # an event, but on another day
    ],
)
async def test_browse_of_unknown_ids_is_a_browse_error(
    hass: HomeAssistant, clips_entry: MockConfigEntry, identifier: str, message: str
) -> None:
    with pytest.raises(BrowseError, match=message):
        await media_source.async_browse_media(hass, f"{ROOT}/{identifier}")


async def test_resolve_gives_the_clip_url_and_refuses_what_has_no_clip(
    hass: HomeAssistant, clips_entry: MockConfigEntry
) -> None:
    """An event with a clip resolves to its URL; unknown ids and clip-less events are Unresolvable."""
    played = await media_source.async_resolve_media(hass, f"{ROOT}/porch/{DAY}/{ENDED_EVENT}", None)
    assert played.url.startswith(f"/api/bobby_camera/recordings/porch/{DAY}/{ENDED_EVENT}/clip.mp4")
    assert played.mime_type == "video/mp4"
    for identifier in (
        f"porch/{DAY}/{RECORDING_EVENT}",  # nothing assembled yet
        f"porch/{DAY}/e-never",
        f"garden/{DAY}/{ENDED_EVENT}",
        "porch",
    ):
        with pytest.raises(Unresolvable, match="No clip for"):
            await media_source.async_resolve_media(hass, f"{ROOT}/{identifier}", None)


async def test_unloaded_hub_has_no_media_and_serves_no_file(
    hass: HomeAssistant, clips_entry: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    """With the entry unloaded: browsing is a clear error, resolving is Unresolvable, the view 404s."""
    clip = f"/api/bobby_camera/recordings/porch/{DAY}/{ENDED_EVENT}/clip.mp4"
    client = await hass_client()
    assert (await client.get(clip)).status == 200

    assert await hass.config_entries.async_unload(clips_entry.entry_id)
    with pytest.raises(BrowseError, match="not loaded"):
        await media_source.async_browse_media(hass, ROOT)
    with pytest.raises(Unresolvable, match="not loaded"):
        await media_source.async_resolve_media(hass, f"{ROOT}/porch/{DAY}/{ENDED_EVENT}", None)
    assert (await client.get(clip)).status == 404


@pytest.mark.parametrize(
    "path",
    [
        f"Porch%20Cam/{DAY}/{ENDED_EVENT}/clip.mp4",  # not a agent id
        f"porch/yesterday/{ENDED_EVENT}/clip.mp4",  # not a day
        f"porch/{DAY}/.hidden/clip.mp4",  # not an event id
        f"porch/{DAY}/{ENDED_EVENT}/event.json",  # not a served file
        f"porch/{DAY}/{ENDED_EVENT}/chunk-000000.ts",
        f"porch/{DAY}/{RECORDING_EVENT}/clip.mp4",  # no clip yet
        f"porch/{DAY}/{RECORDING_EVENT}/snapshot.jpg",
        f"garden/{DAY}/{ENDED_EVENT}/clip.mp4",
    ],
)
async def test_clip_view_404s_anything_but_an_existing_clip_or_snapshot(
    hass: HomeAssistant, clips_entry: MockConfigEntry, hass_client: ClientSessionGenerator, path: str
) -> None:
    client = await hass_client()
    assert (await client.get(f"/api/bobby_camera/recordings/{path}")).status == 404


async def test_clip_view_needs_a_login(
    hass: HomeAssistant,
    clips_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The snapshot is served to a logged-in client with its type; without a login (or signature): 401."""
    path = f"/api/bobby_camera/recordings/porch/{DAY}/{ENDED_EVENT}/snapshot.jpg"
    response = await (await hass_client()).get(path)
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert (await response.read()).startswith(b"\xff\xd8")
    assert (await (await hass_client_no_auth()).get(path)).status == 401
