"""A disk that fills is not a bad chunk: a real tmpfs under the camera's clip folder fills up.

Issue 20, finding 2: a full disk during assembly gave a clip announced as ready that did
not open, acked chunks that were not stored, left temporary files, and the repair
flickered while another camera could still write. Here the camera `porch`'s folder is a
small tmpfs (real ENOSPC from the kernel), everything else is on the test's disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.bobby_camera.const import DOMAIN, EVENT_CLIP_READY
from custom_components.bobby_camera.recording import assembly
from custom_components.bobby_camera.recording.store import CLIP_FILE
from tests.support.chunks import decoded_duration, make_event
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

from .common import payload
from .recording_helpers import CAMERA, FakeCameraLink, until

FPS = 10.0
EVENT = "20261125-134510-a3f09c"


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """A file that takes the disk's free space but `leave` bytes (ENOSPC ends it when leave=0)."""
    filler = folder / "filler"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with contextlib.suppress(OSError), filler.open("ab") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return filler


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp")]


def storage_issue(issue_registry: ir.IssueRegistry) -> str | None:
    issue = issue_registry.async_get_issue(DOMAIN, "clip_storage")
    return None if issue is None else issue.translation_key


async def test_a_disk_full_during_assembly_gives_no_clip_until_rebuilt(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    media_dir: Path,
    issue_registry: ir.IssueRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks fit, the clip does not: no ack for an unstored chunk, no clip_ready, no clip file, no
    temporary file; once space returns the clip is rebuilt from the intact chunks and announced whole."""
    monkeypatch.setattr(assembly, "RETRY_AFTER", 1.0)
    ready = async_capture_events(hass, EVENT_CLIP_READY)
    chunks = make_event(chunks=3, seconds=4.0, fps=FPS, width=640, height=480, start=time.time())
    sizes = [len(c.video) for c in chunks]
    assert min(sizes) > 16 * 1024, sizes  # a clip of all three cannot fit in the slack left
    recordings = hub_entry.runtime_data.recordings
    with tmpfs(media_dir / "bobby_camera" / CAMERA, "2m") as folder:
        for chunk in chunks[:2]:
            ack = await camera.deliver(chunk.payload, EVENT, chunk.header["seq"])
            assert "ok" not in ack
        await until(lambda: recordings.events[(CAMERA, EVENT)].clip_chunks == 2, "the clip so far")
        filler = await hass.async_add_executor_job(fill, folder)

        # The last chunk cannot be stored: not acknowledged (the camera keeps it), a disk_full repair.
        since, unstored = camera.mark(), recordings.chunks_unstored
        await camera.send(chunks[2].payload)
        await until(lambda: recordings.chunks_unstored > unstored, "the chunk is not stored")
        assert camera.acks(since) == []
        assert storage_issue(issue_registry) == "disk_full"

        # Room for the chunk and event.json (tmpfs counts 4 KiB pages), not for the clip of all three.
        filler.unlink()
        await hass.async_add_executor_job(fill, folder, -(-sizes[2] // 4096) * 4096 + 8192)
        ack = await camera.deliver(chunks[2].payload, EVENT, 2)
        assert "ok" not in ack
        record = recordings.events[(CAMERA, EVENT)]
        await until(lambda: not record.recording and not record.has_clip, "the assembly fails")
        await hass.async_block_till_done()
        assert ready == []  # no clip is announced that was not written whole
        assert storage_issue(issue_registry) == "disk_full"
        event_folder = next(folder.glob(f"*/{EVENT}"))
        assert not (event_folder / CLIP_FILE).exists()  # not the stale clip of two chunks either
        assert temp_files(media_dir) == []
        assert sorted(p.name for p in event_folder.glob("chunk-*.ts")) == [
            "chunk-000000.ts",
            "chunk-000001.ts",
            "chunk-000002.ts",
        ]

        # Space returns: the clip is rebuilt from its chunks, then announced with all it received.
        filler.unlink()
        await until(lambda: ready, "the clip is ready once the disk takes it", within=30)
        assert ready[0].data["duration"] == pytest.approx(12.0, abs=0.15)
        assert decoded_duration(str(event_folder / CLIP_FILE), FPS)[0] == 120
        assert storage_issue(issue_registry) is None
        assert temp_files(media_dir) == []
        await hass.async_block_till_done()


async def test_the_repair_stays_while_one_camera_cannot_write(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera: FakeCameraLink,
    broker: Mosquitto,
    media_dir: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """porch's folder is full, yard writes fine: the disk_full repair stays up through yard's writes."""
    other = await hass.async_add_executor_job(Probe, broker.port, broker.host)
    info = payload("camera_porch", "info", id="yard", capabilities=["fps", "preview", "record"])
    await hass.async_add_executor_job(
        partial(other.publish, "bobby/camera/yard/status", "online", retain=True)
    )
    await hass.async_add_executor_job(
        partial(other.publish, "bobby/camera/yard/info", json.dumps(info), retain=True)
    )
    recordings = hub_entry.runtime_data.recordings
    try:
        with tmpfs(media_dir / "bobby_camera" / CAMERA, "64k") as folder:
            await hass.async_add_executor_job(fill, folder)
            unstored = recordings.chunks_unstored
            for chunk in make_event(chunks=1, seconds=1.0, fps=FPS, last=False, start=time.time()):
                await camera.send(chunk.payload)
            await until(lambda: recordings.chunks_unstored > unstored, "porch's chunk is not stored")
            assert storage_issue(issue_registry) == "disk_full"
            yard = make_event("yard", "20261125-134600-bb0001", chunks=3, seconds=1.0, fps=FPS)
            for stored, chunk in enumerate(yard, start=1):
                await hass.async_add_executor_job(other.publish, "bobby/camera/yard/chunk", chunk.payload)
                await until(lambda n=stored: yard_chunks(recordings) >= n, "yard's chunk is stored")
                assert storage_issue(issue_registry) == "disk_full"  # yard's success does not close it
            await hass.async_block_till_done()
            assert storage_issue(issue_registry) == "disk_full"
    finally:
        await hass.async_add_executor_job(other.close)


def yard_chunks(recordings: Any) -> int:
    record = recordings.events.get(("yard", "20261125-134600-bb0001"))
    return 0 if record is None else len(record.chunks)
