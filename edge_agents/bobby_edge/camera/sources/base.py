"""The one interface every frame source implements, and the JPEG helpers they share."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from PIL import Image, ImageOps

if TYPE_CHECKING:
    from ..recording.packets import PacketSink

JPEG_MAGIC = b"\xff\xd8\xff"
OwnOptions = TypeVar("OwnOptions")


class CaptureError(RuntimeError):
    """One capture failed (network hiccup, unreadable file); the agent counts it and retries."""


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """The recording stream a source with its own encoder is asked for (size and rate)."""

    width: int
    height: int
    fps: float


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """What every source is asked for (frame size, rate, JPEG quality), and the sources' own
    options: each source declares its group (`live.StreamOptions`, `rtsp.RtspOptions`) and
    finds it here with `own_options`."""

    width: int
    height: int
    fps: float
    jpeg_quality: int
    own: tuple[Any, ...] = ()

    def own_options(self, kind: type[OwnOptions]) -> OwnOptions:
        """The group of options of this type, or its defaults when none was given."""
        for group in self.own:
            if isinstance(group, kind):
                return group
        return kind()


class FrameSource(ABC):
    """A camera, a folder, a video or a URL that gives JPEG frames on demand.

    Lifecycle: `open()` once (raise `StartupError` or `ConfigError` for what no retry can
    fix), then `read()` per frame (raise anything for a failed capture: it is counted and
    retried), `pause()`/`resume()` around a disabled period, `close()` at the end. All
    calls come from the agent's one capture thread.
    """

    scheme: ClassVar[str]  # the registry key: `--source <scheme>[:<target>]`

    def __init__(self, target: str, options: SourceOptions) -> None:
        self.target = target
        self.options = options
        self.fps = options.fps  # the current target rate; `set_fps` keeps it up to date

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the frames `read()` returns."""
        return self.options.width, self.options.height

    @property
    def description(self) -> str:
        """What the source is, for the `model` key of `info` (never a secret)."""
        return f"{self.scheme}: {self.target}" if self.target else self.scheme

    @property
    def max_fps(self) -> float | None:
        """The highest rate the source can deliver, where it knows one."""
        return None

    def stream_info(self) -> dict[str, Any]:
        """What the source's stream is, where it has one, for `info`: `stream_codec`,
        `stream_resolution`, `stream_fps` (docs/protocol.md); only the keys known so far."""
        return {}

    @property
    def problem(self) -> str | None:
        """Why the source gives no frames right now (e.g. a lost stream), or None; no secrets."""
        return None

    @property
    def reconnects(self) -> int:
        """How often the source has reconnected to its stream since start."""
        return 0

    def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire the device or check the target."""

    def record_to(self, sink: PacketSink, video: VideoOptions) -> bool:
        """Called before `open()` when recording is on. A source that has encoded video of its
        own (a hardware encoder, an IP camera's stream) feeds it to `sink` from then on and
        returns True. The default returns False: the agent encodes the frames `read()` gives."""
        return False

    @abstractmethod
    def read(self) -> bytes:
        """Capture one frame; returns JPEG bytes."""

    def set_fps(self, fps: float) -> None:
        """The target rate changed (a camera may re-program its sensor: call super())."""
        self.fps = fps

    def pause(self) -> None:  # noqa: B027 - optional hook
        """Stop capturing while the agent is disabled; keep what is costly to reacquire."""

    def resume(self) -> None:  # noqa: B027 - optional hook
        """Capture again after `pause()`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device."""

    def reopen(self) -> None:
        """Captures keep failing: start afresh. A source that reconnects by itself overrides it."""
        self.close()
        self.open()


def fit_jpeg(image: Image.Image, size: tuple[int, int], quality: int) -> bytes:
    """Scale and centre-crop to exactly `size` (no distortion), encode as JPEG."""
    if image.size != size:
        image = ImageOps.fit(image.convert("RGB"), size, Image.Resampling.BILINEAR)
    elif image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def fit_within(size: tuple[int, int], limit: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled down (aspect kept, never up) to fit in `limit`: a sub-stream stays small."""
    scale = min(1.0, limit[0] / size[0], limit[1] / size[1])
    return max(2, round(size[0] * scale)), max(2, round(size[1] * scale))


def to_sized_jpeg(data: bytes, size: tuple[int, int], quality: int) -> bytes:
    """Any image file's bytes → JPEG of `size`; a JPEG of that size passes through untouched."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG" and image.size == size and data.startswith(JPEG_MAGIC):
            return data  # the cheap path: no decode, no re-encode
        if image.format == "JPEG":
            # Let libjpeg scale by 1/2, 1/4, 1/8 while decoding when the target is much smaller.
            image.draft("RGB", size)
        image.load()
        return fit_jpeg(image, size, quality)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from a JPEG's header (no full decode); raises CaptureError if not a JPEG."""
    if not data.startswith(JPEG_MAGIC):
        raise CaptureError(f"not a JPEG ({len(data)} bytes starting {data[:8]!r})")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError) as err:
        raise CaptureError(f"unreadable JPEG: {err}") from None
