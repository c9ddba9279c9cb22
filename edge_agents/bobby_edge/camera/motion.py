"""Motion regions on a small grey copy of each frame: where the detector should look closely.

    frame JPEG ─► grey, ~160 px wide (libjpeg's DCT scaling: the full frame is never decoded)
              ─► box blur ─► |frame − running average| > THRESHOLD ─► cells of CELL×CELL px
              ─► moving cells, grown by one ─► connected blobs ─► normalised boxes

The background is a running average: pixels that do not move follow the scene quickly
(light, shadows), pixels that move follow it FOREGROUND_SLOWDOWN times more slowly, so a
person who stops keeps a region for a while instead of melting into the background at
once. A frame where most of the picture changed (the light went on, the camera's
exposure jumped) resets the background and gives no regions: it is not motion.

Numpy and Pillow only (both on Raspberry Pi OS; no OpenCV for a Pi Zero). Cost per frame
is measured by bench/run ("camera motion") and written in docs/performance.md.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from ..blobs import label
from ..protocol import MAX_REGIONS, Coords

WIDTH = 160  # the grey copy's width (libjpeg picks the scale 1/2..1/8 at least this wide)
THRESHOLD = 20.0  # grey levels (0-255) a pixel must differ from the background
CELL = 4  # motion is counted in cells of CELL×CELL grey pixels
CELL_FRACTION = 0.25  # a cell moves when this fraction of its pixels does
MIN_CELLS = 2  # smaller blobs (before growing) are noise: a leaf, sensor noise
LEARNING_RATE = 0.1  # per frame, for pixels that do not move
FOREGROUND_SLOWDOWN = 20  # moving pixels are learnt this many times more slowly
RESET_FRACTION = 0.6  # more of the picture than this changed: a new scene, not motion
PADDING = 0.5  # cells added around each blob (the detector adds its own margin too)


@dataclass(frozen=True, slots=True)
class Motion:
    regions: list[Coords]
    moving_fraction: float  # of the picture, for logs and tests


def small_grey(jpeg: bytes) -> Image.Image:
    """The frame in grey, ~WIDTH px wide: the copy motion (`motion_grey`) and the tamper
    checks (tamper.py) share, so the agent decodes each frame once."""
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height = image.size
        small_height = max(1, round(height * WIDTH / width))
        image.draft("L", (WIDTH, small_height))  # scaled decode, luma only
        grey = image.convert("L")
    if grey.width > 2 * WIDTH:  # not a JPEG (draft did nothing) or an odd aspect
        grey = grey.resize((WIDTH, small_height), Image.Resampling.BILINEAR)
    return grey


def motion_grey(grey: Image.Image) -> npt.NDArray[np.float32]:
    """The small grey copy lightly blurred (sensor noise is not motion), cropped to whole cells."""
    width_cells, height_cells = max(1, grey.width // CELL), max(1, grey.height // CELL)
    grey = grey.filter(ImageFilter.BoxBlur(1)).crop((0, 0, width_cells * CELL, height_cells * CELL))
    return np.asarray(grey, dtype=np.float32)


class MotionDetector:
    """One camera's background model; `regions(jpeg)` for every frame, in order."""

    def __init__(self) -> None:
        self._background: npt.NDArray[np.float32] | None = None

    def grey(self, jpeg: bytes) -> npt.NDArray[np.float32]:
        return motion_grey(small_grey(jpeg))

    def regions(self, jpeg: bytes) -> Motion:
        """Motion regions of this frame against the frames before it (none for the first)."""
        return self.regions_of(self.grey(jpeg))

    def regions_of(self, frame: npt.NDArray[np.float32]) -> Motion:
        """The same, from the frame's `motion_grey`, which is left unchanged."""
        background = self._background
        if background is None or background.shape != frame.shape:
            self._background = frame.copy()
            return Motion([], 0.0)
        moving = np.abs(frame - background) > THRESHOLD
        fraction = float(moving.mean())
        if fraction > RESET_FRACTION:
            self._background = frame.copy()
            return Motion([], fraction)
        rate = np.where(moving, LEARNING_RATE / FOREGROUND_SLOWDOWN, LEARNING_RATE).astype(np.float32)
        background += rate * (frame - background)
        height, width = frame.shape
        rows, cols = height // CELL, width // CELL
        cells = moving.reshape(rows, CELL, cols, CELL).mean(axis=(1, 3)) >= CELL_FRACTION
        return Motion(self._boxes(cells, rows, cols), fraction)

    @staticmethod
    def _boxes(cells: npt.NDArray[np.bool_], rows: int, cols: int) -> list[Coords]:
        if not cells.any():
            return []
        seed_labels, seeds = label(cells)
        grown = cells.copy()  # one cell of growth joins the pieces of one moving body
        grown[1:] |= cells[:-1]
        grown[:-1] |= cells[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        labels, blobs = label(grown)
        # Grown blobs that hold at least one seed of MIN_CELLS moving cells.
        seeded = np.isin(seed_labels, [s.label for s in seeds if s.pixels >= MIN_CELLS])
        big = set(np.unique(labels[seeded]).tolist())
        regions: list[Coords] = []
        for blob in blobs:  # largest first
            if blob.label not in big:
                continue
            regions.append(
                (
                    round(max(0.0, (blob.left + 1 - PADDING) / cols), 4),
                    round(max(0.0, (blob.top + 1 - PADDING) / rows), 4),
                    round(min(1.0, (blob.right - 1 + PADDING) / cols), 4),
                    round(min(1.0, (blob.bottom - 1 + PADDING) / rows), 4),
                )
            )
            if len(regions) == MAX_REGIONS:
                break
        return regions
