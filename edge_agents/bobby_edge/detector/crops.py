"""Where in a frame the model looks besides the whole frame, and merging what it finds.

The model sees a fixed input (257×257 for DeepLab): a whole 640×480 frame shrinks a
person at the end of a garden to a few dozen pixels, below what the model finds. So the
detector also runs the model on *squares* of the full-resolution frame:

- around the camera's motion regions (`regions` user property): each region becomes a
  square with a margin, clamped inside the frame; squares that overlap are merged when one
  model run over the merged square costs no more pixels than two runs; at most
  MAX_REGION_CROPS per frame (the largest regions win). A square is the model input's size
  or larger, except around a small region (a far person): there it is twice the region,
  down to half the model input, because the model finds a 64-px person in a 128–192-px
  square and not in a 257-px one (issue 24). When such a tight square cuts everything it
  finds (the person is larger than the region said), the pipeline looks again in a
  model-sized square around it (`widened`);
- or, for frames without regions (an ESP32-CAM, a still image), overlapping *tiles*:
  squares of 2/3 of the frame's shorter side, at most half a side apart, so anything up to
  half a tile fits wholly inside one tile; and, for `bobby-edge detect`, a finer level of
  tiles (3/4 of the model input at 640×480: 24 more model runs) for people down to ~64 px.

Boxes found in a square are mapped back to frame coordinates. A box that touches an
inner edge of its square (one that is not the frame's edge) is a fragment of something
larger and is dropped: a person up to half a tile fits wholly in some tile, a moving
person in the square around their motion, and anyone larger is the whole frame's. Such
fragments were the only new boxes on people-free scenes in the tests; so is a speck under
MIN_HEIGHT_IN_SQUARE of its square. Duplicates are merged by non-maximum suppression, and
pieces of one person (head and body, the two halves) are joined (`merge`, `join_parts`):
one box per person when people stand apart; people who overlap may stay one box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .models import Box, Person

MAX_REGION_CROPS = 4  # model runs per frame for regions, besides the whole frame
REGION_MARGIN = 1.3  # a square's side is this × the region's longer side (context for the model)
# A small region (a person far away) gets a square of SMALL_CONTEXT × its longer side, down
# to MIN_SQUARE_OF_MODEL × the model input: the model (DeepLab, 257²) finds a 64-px person
# in squares of 128–192 px, upscaled, and not in a 257-px square. Measured on the test scenes.
SMALL_CONTEXT = 2.0
MIN_SQUARE_OF_MODEL = 0.5
TILE_FRACTION = 2 / 3  # a tile's side, as a fraction of the frame's shorter side
# Finer tiles, a second pass for people too small for the first: half the first tiles'
# side, never under FINE_TILE_OF_MODEL × the model input (at most a 1.33× upscale).
FINE_TILE_OF_MODEL = 0.75
# Pieces of one person (head and body, body and legs, left and right half: the
# segmentation model splits a person near the smallest size it can see) are joined when
# their boxes overlap or touch: level with each other for at least JOIN_OVERLAP of the
# smaller one, the gap between them at most JOIN_GAP (one above the other) or JOIN_GAP_SIDE
# (side by side) of the joined height, and the joined box of a standing person's
# proportions (height JOIN_ASPECT[0]..[1] × width, in pixels). Two people side by side
# with a gap between them stay two; two who touch may become one, as people who touch in
# the segmentation mask always were.
JOIN_OVERLAP = 0.5
JOIN_GAP = 0.15  # above one another
JOIN_GAP_SIDE = 0.1  # beside one another: a person split down the middle
JOIN_ASPECT = (1.0, 5.0)
IOU_SAME = 0.45  # boxes overlapping this much (intersection over union) are one person
INSIDE_SAME = 0.75  # ... as is a box lying this much inside a better one (a fragment)
EDGE = 0.015  # a box this close to a square's inner edge (fraction of the side) is cut by it
# A box under this fraction of its square's height is a speck, not a person: the smallest
# person the squares are sized for is a third of a tile (a 64-px person in a 192-px tile)
# or two fifths of a region's square; on night versions of the empty scenes, noise made
# 25-px "people" in the finer tiles.
MIN_HEIGHT_IN_SQUARE = 0.15


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


def widened(crop: Crop, side: int, width: int, height: int) -> Crop:
    """A square of `side` with the same centre as `crop`, inside the frame."""
    return _square(crop.x + crop.side / 2, crop.y + crop.side / 2, side, width, height)


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
        longer = max(w, h)
        small = min(model_side, max(MIN_SQUARE_OF_MODEL * model_side, SMALL_CONTEXT * longer))
        side = max(small, REGION_MARGIN * longer)
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


def _tiles(width: int, height: int, side: int) -> list[Crop]:
    return [Crop(x, y, side) for y in _positions(height, side) for x in _positions(width, side)]


def tile_crops(width: int, height: int, model_side: int, fine: bool = True) -> list[Crop]:
    """Overlapping tiles, then finer ones where the first are much larger than the finest
    the model can use; none when the frame is hardly larger than the model input."""
    side = min(width, height, max(model_side, round(TILE_FRACTION * min(width, height))))
    if max(width, height) < 1.5 * model_side:
        return []
    tiles = _tiles(width, height, side)
    fine_side = max(round(FINE_TILE_OF_MODEL * model_side), side // 2)
    if fine and side >= 1.25 * fine_side:
        tiles += _tiles(width, height, fine_side)
    return tiles


def to_frame(person: Person, crop: Crop, width: int, height: int) -> tuple[Person, bool]:
    """A person found in `crop` in frame coordinates, and whether to drop it: an inner edge
    cuts its box, or it is a speck (MIN_HEIGHT_IN_SQUARE)."""
    xmin, ymin, xmax, ymax = person.box
    cut = (
        (xmin <= EDGE and crop.x > 0)
        or (ymin <= EDGE and crop.y > 0)
        or (xmax >= 1 - EDGE and crop.x + crop.side < width)
        or (ymax >= 1 - EDGE and crop.y + crop.side < height)
        or ymax - ymin < MIN_HEIGHT_IN_SQUARE
    )
    box = (
        round((crop.x + xmin * crop.side) / width, 4),
        round((crop.y + ymin * crop.side) / height, 4),
        round((crop.x + xmax * crop.side) / width, 4),
        round((crop.y + ymax * crop.side) / height, 4),
    )
    return Person(person.score, box, person.label), cut


def _intersection(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _joinable(a: Box, b: Box, width: int, height: int) -> bool:
    """Whether two boxes are pieces of one standing person (see JOIN_*), or one lies
    mostly inside the other (a piece found in one square, the whole in another)."""
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    if smaller > 0 and _intersection(a, b) >= INSIDE_SAME * smaller:
        return True
    left, top = min(a[0], b[0]), min(a[1], b[1])
    right, bottom = max(a[2], b[2]), max(a[3], b[3])
    joined_w, joined_h = (right - left) * width, (bottom - top) * height
    if not JOIN_ASPECT[0] * joined_w <= joined_h <= JOIN_ASPECT[1] * joined_w:
        return False
    # Beside each other along one axis for JOIN_OVERLAP of the smaller, touching along the other.
    for lo, hi, along in ((0, 2, (1, 3)), (1, 3, (0, 2))):
        overlap = min(a[hi], b[hi]) - max(a[lo], b[lo])
        if overlap < JOIN_OVERLAP * min(a[hi] - a[lo], b[hi] - b[lo]):
            continue
        start, end = along
        gap = max(a[start], b[start]) - min(a[end], b[end])  # negative when they overlap
        if gap * (height if start == 1 else width) <= (JOIN_GAP if start == 1 else JOIN_GAP_SIDE) * joined_h:
            return True
    return False


def join_parts(people: list[Person], width: int = 4, height: int = 3) -> list[Person]:
    """People whose boxes are pieces of one person, joined into one box (the best score),
    until no pair joins; best first. `width`, `height`: the frame's (or its aspect)."""
    joined = sorted(people, key=lambda p: -p.score)
    changed = True
    while changed:
        changed = False
        for i in range(len(joined)):
            for j in range(i + 1, len(joined)):
                a, b = joined[i].box, joined[j].box
                if joined[i].label == joined[j].label and _joinable(a, b, width, height):
                    box = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    joined[i] = Person(max(joined[i].score, joined[j].score), box, joined[i].label)
                    del joined[j]
                    changed = True
                    break
            if changed:
                break
    return _suppress(joined)


def merge(candidates: list[tuple[Person, bool]], width: int = 4, height: int = 3) -> list[Person]:
    """Non-maximum suppression over the boxes not cut by a square's edge, then pieces of one
    person joined (`join_parts`); best score first."""
    return join_parts(_suppress([p for p, cut in candidates if not cut]), width, height)


def _suppress(people: list[Person]) -> list[Person]:
    kept: list[Person] = []
    for person in sorted(people, key=lambda p: -p.score):
        area = person.area
        duplicate = False
        for other in kept:
            if other.label != person.label:
                continue  # a person on a bicycle is both
            inter = _intersection(person.box, other.box)
            union = area + other.area - inter
            if (union > 0 and inter / union >= IOU_SAME) or (area > 0 and inter / area >= INSIDE_SAME):
                duplicate = True
                break
        if not duplicate:
            kept.append(person)
    kept.sort(key=lambda p: p.score, reverse=True)
    return kept
