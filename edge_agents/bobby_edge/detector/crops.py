"""Where in a frame the model looks besides the whole frame, and merging what it finds.

The model sees a fixed input (257×257 for DeepLab): a whole 640×480 frame shrinks a
person at the end of a garden to a few dozen pixels, below what the model finds. So the
detector also runs the model on *squares* of the full-resolution frame:

- around the camera's motion regions (`regions` user property): each region becomes a
  square with a margin, never smaller than the model input in frame pixels (no upscaling
  of a few pixels into false people), clamped inside the frame; squares that overlap are
  merged when one model run over the merged square costs no more pixels than two runs;
  at most MAX_REGION_CROPS per frame (the largest regions win);
- or, for frames without regions (an ESP32-CAM, a still image), overlapping *tiles*:
  squares of 2/3 of the frame's shorter side, at most half a side apart, so anything up to
  half a tile fits wholly inside one tile.

Boxes found in a square are mapped back to frame coordinates. A box that touches an
inner edge of its square (one that is not the frame's edge) is a fragment of something
larger and is dropped: a person up to half a tile fits wholly in some tile, a moving
person in the square around their motion, and anyone larger is the whole frame's. Such
fragments were the only new boxes on people-free scenes in the tests. Duplicates are
merged by non-maximum suppression (`merge`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .models import Box, Person

MAX_REGION_CROPS = 4  # model runs per frame for regions, besides the whole frame
REGION_MARGIN = 1.3  # a square's side is this × the region's longer side (context for the model)
TILE_FRACTION = 2 / 3  # a tile's side, as a fraction of the frame's shorter side
IOU_SAME = 0.45  # boxes overlapping this much (intersection over union) are one person
INSIDE_SAME = 0.75  # ... as is a box lying this much inside a better one (a fragment)
EDGE = 0.015  # a box this close to a square's inner edge (fraction of the side) is cut by it


@dataclass(frozen=True, slots=True)
class Crop:
    """A square of the frame, in frame pixels."""

    x: int
    y: int
    side: int

    def overlaps(self, other: Crop) -> bool:
        return (
            self.x < other.x + other.side
            and other.x < self.x + self.side
            and self.y < other.y + other.side
            and other.y < self.y + self.side
        )


def _square(cx: float, cy: float, side: float, width: int, height: int) -> Crop:
    """A square of `side` centred near (cx, cy), shifted to lie inside the frame."""
    s = int(min(round(side), width, height))
    x = int(min(max(0, round(cx - s / 2)), width - s))
    y = int(min(max(0, round(cy - s / 2)), height - s))
    return Crop(x, y, s)


def _union(a: Crop, b: Crop, width: int, height: int) -> Crop | None:
    """One square covering both, or None when that would cost more than the two."""
    left, top = min(a.x, b.x), min(a.y, b.y)
    right, bottom = max(a.x + a.side, b.x + b.side), max(a.y + a.side, b.y + b.side)
    side = max(right - left, bottom - top)
    if side > min(width, height) or side * side > a.side**2 + b.side**2:
        return None
    return _square((left + right) / 2, (top + bottom) / 2, side, width, height)


def region_crops(
    regions: tuple[Box, ...] | list[Box], width: int, height: int, model_side: int
) -> tuple[list[Crop], int]:
    """Squares for the regions (merged, capped), and how many were left out by the cap."""
    ordered = sorted(regions, key=lambda r: (r[2] - r[0]) * width * (r[3] - r[1]) * height, reverse=True)
    crops: list[Crop] = []
    for xmin, ymin, xmax, ymax in ordered:
        w, h = (xmax - xmin) * width, (ymax - ymin) * height
        if w <= 0 or h <= 0:
            continue
        side = max(model_side, REGION_MARGIN * max(w, h))
        crops.append(_square((xmin + xmax) / 2 * width, (ymin + ymax) / 2 * height, side, width, height))
    merged = True
    while merged:  # merge pairs until no overlapping pair is worth merging
        merged = False
        for i in range(len(crops)):
            for j in range(i + 1, len(crops)):
                if crops[i].overlaps(crops[j]) and (union := _union(crops[i], crops[j], width, height)):
                    crops[i] = union
                    del crops[j]
                    merged = True
                    break
            if merged:
                break
    unique = list(dict.fromkeys(crops))
    return unique[:MAX_REGION_CROPS], max(0, len(unique) - MAX_REGION_CROPS)


def _positions(length: int, side: int) -> list[int]:
    if length <= side:
        return [0]
    count = math.ceil((length - side) / (side / 2)) + 1
    return [round(i * (length - side) / (count - 1)) for i in range(count)]


def tile_crops(width: int, height: int, model_side: int) -> list[Crop]:
    """Overlapping tiles; none when the frame is hardly larger than the model input."""
    side = min(width, height, max(model_side, round(TILE_FRACTION * min(width, height))))
    if max(width, height) < 1.5 * model_side:
        return []
    return [Crop(x, y, side) for y in _positions(height, side) for x in _positions(width, side)]


def to_frame(person: Person, crop: Crop, width: int, height: int) -> tuple[Person, bool]:
    """A person found in `crop` in frame coordinates, and whether an inner edge cuts its box."""
    xmin, ymin, xmax, ymax = person.box
    cut = (
        (xmin <= EDGE and crop.x > 0)
        or (ymin <= EDGE and crop.y > 0)
        or (xmax >= 1 - EDGE and crop.x + crop.side < width)
        or (ymax >= 1 - EDGE and crop.y + crop.side < height)
    )
    box = (
        round((crop.x + xmin * crop.side) / width, 4),
        round((crop.y + ymin * crop.side) / height, 4),
        round((crop.x + xmax * crop.side) / width, 4),
        round((crop.y + ymax * crop.side) / height, 4),
    )
    return Person(person.score, box), cut


def _intersection(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def merge(candidates: list[tuple[Person, bool]]) -> list[Person]:
    """Non-maximum suppression over the boxes not cut by a square's edge, best score first."""
    kept: list[Person] = []
    for person in sorted((p for p, cut in candidates if not cut), key=lambda p: -p.score):
        area = person.area
        duplicate = False
        for other in kept:
            inter = _intersection(person.box, other.box)
            union = area + other.area - inter
            if (union > 0 and inter / union >= IOU_SAME) or (area > 0 and inter / area >= INSIDE_SAME):
                duplicate = True
                break
        if not duplicate:
            kept.append(person)
    kept.sort(key=lambda p: p.score, reverse=True)
    return kept
