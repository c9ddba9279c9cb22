"""The owner's masks (docs/protocol.md, "Masks and objects"): objects lying mostly inside
one are not reported.

The masks come with each frame (the camera's `masks` property), so any detector applies
them without per-camera state. A box is masked when at least `protocol.MASKED_SHARE` of
its area lies inside the masks' union, read from the masks drawn once (Pillow) on a
RASTER × RASTER grid of the frame: exact to 1/RASTER of the frame's side, whatever the
polygons' shapes. The grid and the parsed properties are cached by their value (the same
masks arrive with every frame of a camera): a cache, not per-camera state — any frame
still carries all it needs. Cost per frame: docs/performance.md ("Masks").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from .. import protocol
from ..protocol import MASKED_SHARE, Polygon
from .models import Box, Person

RASTER = 256  # cells per side of the frame: a share to within a cell (0.4 % of a side)
CACHED = 64  # different mask sets (cameras) whose grid and parse are kept


@dataclass(frozen=True, slots=True)
class FrameMasking:
    """What a frame's `masks` and `objects` properties ask of the detector."""

    objects: tuple[str, ...] = protocol.DEFAULT_OBJECTS
    table: npt.NDArray[np.uint8] | None = None  # the masks' grid (raster()); None: no mask
    problem: str | None = None  # what was wrong with the properties, for a throttled log


NO_MASKING = FrameMasking()


@lru_cache(maxsize=CACHED)
def frame_masking(masks: str | None, objects: str | None) -> FrameMasking:
    """The frame's properties parsed and its masks drawn, once per different pair of values."""
    settings = protocol.parse_frame_settings(masks, objects)
    table = raster(settings.masks) if settings.masks else None
    return FrameMasking(settings.objects, table, settings.problem)


def raster(masks: tuple[Polygon, ...]) -> npt.NDArray[np.uint8]:
    """The masks' union on the grid: 1 inside, 0 outside (row = y, column = x)."""
    image = Image.new("L", (RASTER, RASTER), 0)
    draw = ImageDraw.Draw(image)
    for polygon in masks:
        draw.polygon([(x * RASTER, y * RASTER) for x, y in polygon], fill=1)
    return np.asarray(image, dtype=np.uint8)


def masked_share(box: Box, table: npt.NDArray[np.uint8]) -> float:
    """The share of the box's area (0-1) inside the masks drawn in `table` (raster())."""
    xmin, ymin, xmax, ymax = box
    left, top = min(RASTER - 1, math.floor(xmin * RASTER)), min(RASTER - 1, math.floor(ymin * RASTER))
    right, bottom = max(left + 1, math.ceil(xmax * RASTER)), max(top + 1, math.ceil(ymax * RASTER))
    right, bottom = min(RASTER, right), min(RASTER, bottom)
    return int(np.count_nonzero(table[top:bottom, left:right])) / ((bottom - top) * (right - left))


def unmasked(objects: list[Person], table: npt.NDArray[np.uint8] | None) -> list[Person]:
    """The objects not lying mostly inside the masks, in their order."""
    if table is None:
        return objects
    return [o for o in objects if masked_share(o.box, table) < MASKED_SHARE]
