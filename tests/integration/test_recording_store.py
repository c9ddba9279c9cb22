"""The clip folder and the remux on real files: damaged folders at start, retention deletes, odd chunks.

No Home Assistant needed: ClipStore and assemble_clip are the executor-side code; what
they are given is what a camera agent sends (libx264 chunks muxed by the agent's muxer).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import av
import pytest

from custom_components.bobby_camera.recording.assemble import AssemblyError, assemble_clip, first_frame_jpeg
from custom_components.bobby_camera.recording.store import (
    CLIP_FILE,
    EVENT_FILE,
    ChunkRecord,
    ClipStore,
    EventRecord,
    chunk_name,
)
from tests.support.chunks import decoded_duration, make_event

FPS = 10.0
EVENT = "20261125-134510-a3f09c"
DAY = "2026-11-25"


def stored_event(store: ClipStore, *, event: str = EVENT, seqs: tuple[int, ...] = (0, 1)) -> EventRecord:
    """An event on disk with real chunk files `seqs` and its event.json."""
    chunks = make_event(event=event, chunks=max(seqs) + 1, seconds=1.0, fps=FPS)
    record = EventRecord(camera="porch", event=event, day=DAY, event_start=1_795_000_000.0)
    for seq in seqs:
        record.chunks[seq] = ChunkRecord(seq * 1.0, 1.0, len(chunks[seq].video))
        store.write_chunk(record, seq, chunks[seq].video, record.dump())
    return record


def test_load_skips_damaged_and_misplaced_folders(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Unreadable, hostile or misplaced event.json: a warning naming the folder, the other events load."""
    store = ClipStore(tmp_path / "bobby_camera")
    good = stored_event(store)
    damaged = {
        "not-json": b"{not json",
        "bad-camera": EventRecord("../etc", "e-1", DAY, 1.0).dump(),
        "bad-day": EventRecord("porch", "e-2", "yesterday", 1.0).dump(),
        "no-chunks": json.dumps({"camera": "porch", "event": "e-3", "day": DAY}).encode(),
    }
    for name, content in damaged.items():
        folder = store.root / "porch" / DAY / name
        folder.mkdir(parents=True)
        (folder / EVENT_FILE).write_bytes(content)
    # A copy of the good event.json in another event's folder: names another event.
    elsewhere = store.root / "porch" / DAY / "e-copied"
    elsewhere.mkdir()
    (elsewhere / EVENT_FILE).write_bytes(good.dump())

    with caplog.at_level(logging.WARNING):
        loaded = store.load()

    assert [r.key for r in loaded] == [("porch", EVENT)]
    text = caplog.text
    for name in damaged:
        assert f"{name}: unreadable event.json" in text
    assert "e-copied: its event.json names another event" in text


def test_load_trusts_the_files_over_event_json(tmp_path: Path) -> None:
    """A chunk listed but gone is forgotten (the camera may resend it); no clip file, no clip."""
    store = ClipStore(tmp_path / "bobby_camera")
    record = stored_event(store, seqs=(0, 1, 2))
    record.clip_duration, record.clip_bytes, record.snapshot = 3.0, 1234, False
    store.write_record(record, record.dump())
    folder = store.event_dir(record)
    (folder / chunk_name(1)).unlink()
    store.write_snapshot(record, b"\xff\xd8jpeg")

    (loaded,) = store.load()

    assert sorted(loaded.chunks) == [0, 2]
    assert loaded.missing == [1]
    assert (loaded.clip_duration, loaded.clip_bytes) == (None, None)
    assert loaded.snapshot is True


def test_load_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert ClipStore(tmp_path / "never-made").load() == []


def test_free_bytes_of_a_folder_not_made_yet_is_its_disk(tmp_path: Path) -> None:
    """Before the first chunk the clip folder does not exist: the free space is its parent disk's."""
    store = ClipStore(tmp_path / "media" / "bobby_camera")
    assert store.free_bytes() > 0


def test_delete_removes_empty_day_and_camera_folders_only(tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "bobby_camera")
    first = stored_event(store, event="e-first", seqs=(0,))
    second = stored_event(store, event="e-second", seqs=(0,))

    store.delete(first)
    assert not store.event_dir(first).exists()
    assert store.event_dir(second).is_dir()  # the day still holds another event

    store.delete(second)
    assert not (store.root / "porch").exists()
    assert store.root.is_dir()
    store.delete(second)  # already gone: nothing to do, no error


def test_assembly_skips_a_corrupt_chunk_and_a_repeated_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A chunk that does not demux is skipped with a warning; the same video twice is kept once."""
    store = ClipStore(tmp_path / "bobby_camera")
    record = stored_event(store, seqs=(0, 1))
    zero, one = store.chunk_files(record)
    corrupt = zero.with_name("chunk-000009.ts")
    corrupt.write_bytes(b"\x00" * 4096)
    target = store.event_dir(record) / CLIP_FILE

    with caplog.at_level(logging.WARNING):
        clip = assemble_clip([zero, corrupt, zero, one, one], target)

    assert (clip.frames, clip.chunks, clip.duration) == (20, 2, pytest.approx(2.0))
    assert decoded_duration(str(target), FPS) == (20, pytest.approx(2.0))
    assert "chunk-000009.ts that does not demux" in caplog.text


def test_assembly_without_any_video_raises_and_leaves_no_file(tmp_path: Path) -> None:
    """Only chunks that do not demux (or are gone): AssemblyError, no clip or temporary file left."""
    garbage = tmp_path / "chunk-000000.ts"
    garbage.write_bytes(b"G" + b"\xff" * 187)
    target = tmp_path / CLIP_FILE
    with pytest.raises(AssemblyError, match="no playable video in 2 chunk"):
        assemble_clip([garbage, tmp_path / "chunk-000001.ts"], target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk-000000.ts"]


def test_assembly_of_a_stream_without_video_raises(tmp_path: Path) -> None:
    """MPEG-TS that holds only audio: no video to copy, so no clip."""
    audio = tmp_path / "chunk-000000.ts"
    with av.open(str(audio), mode="w", format="mpegts") as out:
        stream = out.add_stream("mp2", rate=48000)
        frame = av.AudioFrame(format="s16", layout="stereo", samples=1152)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = 48000
        for _ in range(5):
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(AssemblyError):
        assemble_clip([audio], tmp_path / CLIP_FILE)


def test_thumbnail_is_scaled_down_and_none_for_a_non_video(tmp_path: Path) -> None:
    """The first frame of a wide clip comes back at most 640 px wide; a non-video gives no thumbnail."""
    store = ClipStore(tmp_path / "bobby_camera")
    chunks = make_event(chunks=1, seconds=0.5, fps=FPS, width=1280, height=720)
    record = EventRecord(camera="porch", event=EVENT, day=DAY, event_start=1.0)
    record.chunks[0] = ChunkRecord(0.0, 0.5, len(chunks[0].video))
    store.write_chunk(record, 0, chunks[0].video, record.dump())
    target = store.event_dir(record) / CLIP_FILE
    assemble_clip(store.chunk_files(record), target)

    image = first_frame_jpeg(target)
    assert image is not None
    thumbnail = tmp_path / "thumbnail.jpg"
    thumbnail.write_bytes(image)
    with av.open(str(thumbnail)) as decoded:
        frame = next(decoded.decode(video=0))
        assert (frame.width, frame.height) == (640, 360)

    not_video = tmp_path / "not-a-clip.mp4"
    not_video.write_bytes(b"plain text")
    assert first_frame_jpeg(not_video) is None
    assert first_frame_jpeg(tmp_path / "missing.mp4") is None
