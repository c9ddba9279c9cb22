"""Joining an event's MPEG-TS chunks into one MP4 a browser plays: a remux, no re-encode.

The camera agent's chunks carry timestamps that count from the event's first frame and
continue across chunks (docs/protocol.md, `chunk`), so their packets are copied in order
into an MP4 with `faststart` (the index first: a browser starts playing before it has
the whole file). Runs in an executor job: PyAV blocks.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av

from ..const import LOGGER

MP4_OPTIONS = {"movflags": "+faststart"}


class AssemblyError(Exception):
    """No playable video in any chunk of the event."""


@dataclass(frozen=True, slots=True)
class Clip:
    """What the assembled clip holds."""

    duration: float  # seconds, first frame's start to the last frame's end
    frames: int
    chunks: int  # chunks that contributed video (a corrupt one is skipped)
    bytes: int


def _add_stream_like(output: Any, template: Any) -> Any:
    # PyAV 14 replaced add_stream(template=...) by add_stream_from_template; HA 2025.4 ships 13.
    if hasattr(output, "add_stream_from_template"):
        return output.add_stream_from_template(template)
    return output.add_stream(template=template)  # pragma: no cover - PyAV 13


class ClipWriteError(OSError):
    """The clip could not be written (a full disk, an I/O error): a storage error, not bad video.

    The chunks are intact; the clip is assembled again once the disk takes writes.
    """


def _write_error(err: Exception) -> ClipWriteError:
    code = getattr(err, "errno", None)
    return ClipWriteError(
        code if isinstance(code, int) and code > 0 else errno.EIO, f"writing the clip: {err}"
    )


def assemble_clip(chunk_files: list[Path], target: Path) -> Clip:
    """Remux the chunks (in this order) into `target`; written to a temporary name, then renamed.

    A chunk that does not read (bad video) is skipped; a write that fails raises
    ClipWriteError and leaves no file behind (neither the temporary one nor a half clip).
    """
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        clip = _remux(chunk_files, tmp)
        _verify(tmp, clip.frames)
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dataclasses.replace(clip, bytes=target.stat().st_size)


def _remux(chunk_files: list[Path], tmp: Path) -> Clip:
    try:
        output: Any = av.open(str(tmp), mode="w", format="mp4", options=MP4_OPTIONS)
    except (av.error.FFmpegError, OSError) as err:
        raise _write_error(err) from err
    out_stream: Any = None
    origin: int | None = None  # the first packet's dts, in the output's time base: the clip starts at 0
    last_dts: int | None = None
    frames = used = 0
    first_time = last_time = frame_time = 0.0
    try:
        for path in chunk_files:
            try:
                source = av.open(str(path), mode="r", format="mpegts")
            except (av.error.FFmpegError, OSError, ValueError) as err:
                LOGGER.warning("Skipping recording chunk %s that does not demux: %s", path, err)
                continue
            with source:
                if not source.streams.video:
                    LOGGER.warning("Skipping recording chunk %s: no video stream", path)
                    continue
                in_stream = source.streams.video[0]
                if out_stream is None:
                    out_stream = _add_stream_like(output, in_stream)
                    frame_time = _frame_interval(in_stream)
                copied = 0
                packets = source.demux(in_stream)
                while True:
                    try:
                        packet = next(packets)
                    except StopIteration:
                        break
                    except (av.error.FFmpegError, OSError, ValueError) as err:
                        LOGGER.warning(
                            "Skipping the rest of recording chunk %s that does not demux: %s", path, err
                        )
                        break
                    if packet.dts is None or packet.size == 0:
                        continue  # the demuxer's flush packet
                    packet.stream = out_stream
                    seconds = float(packet.dts * packet.time_base)
                    if origin is None:
                        origin, first_time = packet.dts, seconds
                    if last_dts is not None and seconds <= last_time:
                        continue  # overlapping or repeated video (a chunk sent twice)
                    packet.dts -= origin
                    if packet.pts is not None:
                        packet.pts -= origin
                    try:
                        output.mux(packet)
                    except (av.error.FFmpegError, OSError) as err:
                        raise _write_error(err) from err  # the disk, not the chunk
                    last_dts, last_time = packet.dts, seconds
                    frames += 1
                    copied += 1
                used += copied > 0
    finally:
        try:
            output.close()  # writes the index (faststart rewrites the whole file)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            if frames:
                raise _write_error(err) from err
            LOGGER.debug("Closing %s: %s", tmp, err)  # an MP4 without a stream
    if frames == 0:
        raise AssemblyError(f"no playable video in {len(chunk_files)} chunk(s)")
    duration = last_time - first_time + frame_time
    return Clip(duration=round(duration, 3), frames=frames, chunks=used, bytes=0)


def _verify(clip: Path, frames: int) -> None:
    """The written clip opens and holds every frame muxed into it; else ClipWriteError."""
    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            found = sum(1 for packet in container.demux(stream) if packet.size)
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as err:
        raise ClipWriteError(errno.EIO, f"the written clip does not open: {err}") from err
    if found != frames:
        raise ClipWriteError(errno.EIO, f"the written clip holds {found} of {frames} frames")


def _frame_interval(stream: Any) -> float:
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    return float(1 / rate) if rate else 0.0


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def first_frame_jpeg(clip: Path, max_width: int = 640) -> bytes | None:
    """A JPEG of the clip's first frame (a thumbnail when no detection snapshot arrived)."""
    try:
        with av.open(str(clip)) as container:
            for frame in container.decode(video=0):
                image = cast(Any, frame).to_image()  # PIL: untyped in older PyAV
                if image.width > max_width:
                    image = image.resize((max_width, round(image.height * max_width / image.width)))
                buffer = io.BytesIO()
                image.save(buffer, "JPEG", quality=80)
                return buffer.getvalue()
    except (av.error.FFmpegError, OSError, ValueError) as err:
        LOGGER.debug("No thumbnail from %s: %s", clip, err)
    return None
