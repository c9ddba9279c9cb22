"""The detector self-test's picture: a known person, placed afresh for every test.

The person is `assets/selftest_person.jpg` (144×198, 8.7 KB): Eileen Collins, NASA's
portrait known as scikit-image's `astronaut`, a work of the US government in the public
domain, cropped to her (head to the bottom edge, shoulder to shoulder) and downsized.
The crop is tight, so where it is pasted is where the person is.

Every picture differs (docs/protocol.md, "selftest"): the person mirrored or not, from
HEIGHTS of the frame's height, anywhere in a 640×480 frame of one random grey (slightly
tinted), at a random JPEG quality, and never where the previous test put her (their
boxes overlap by an IoU under MAX_IOU_WITH_PREVIOUS), so the previous answer cannot pass
again. Measured with the default model (DeepLab v3) on 150 such pictures: found in every
one, IoU with the pasted box 0.76–0.95 (median 0.92), score 0.61–0.93; heights under half
the frame or a noisy background made it miss (the model sees the frame at 257×257).

Pure Pillow (Home Assistant ships it), no Home Assistant import: the tests of the
detector load this file alone.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageOps

PERSON = Path(__file__).parent / "assets" / "selftest_person.jpg"
FRAME = (640, 480)
HEIGHTS = (0.55, 0.85)  # the person's height, as a fraction of the frame's
GREYS = (40, 210)  # the background's grey level
TINT = 15  # each colour channel may differ from the grey by this much
QUALITIES = (70, 90)
MAX_IOU_WITH_PREVIOUS = 0.25
PLACEMENT_TRIES = 50

Coords = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax, normalised 0..1


@dataclass(frozen=True, slots=True)
class TestPicture:
    """A self-test picture and where its person is."""

    jpeg: bytes
    person: Coords


def iou(a: Coords, b: Coords) -> float:
    """Intersection over union of two boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@cache
def _person() -> Image.Image:
    with Image.open(PERSON) as image:
        person: Image.Image = image.convert("RGB")
        return person


def _placement(rng: random.Random, previous: Coords | None) -> tuple[int, int, int, int]:
    """(x, y, width, height) in pixels: the first of PLACEMENT_TRIES random placements away
    from the previous test's box, else the one that overlaps it least."""
    person = _person()
    frame_w, frame_h = FRAME
    candidates = []
    for _ in range(PLACEMENT_TRIES):
        height = round(rng.uniform(*HEIGHTS) * frame_h)
        width = round(height * person.width / person.height)
        candidates.append((rng.randint(0, frame_w - width), rng.randint(0, frame_h - height), width, height))
    if previous is None:
        return candidates[0]
    # min() keeps the first of equals: every placement far enough counts as MAX_IOU_WITH_PREVIOUS.
    return min(candidates, key=lambda c: max(MAX_IOU_WITH_PREVIOUS, iou(_normalised(*c), previous)))


def _normalised(x: int, y: int, width: int, height: int) -> Coords:
    frame_w, frame_h = FRAME
    return (x / frame_w, y / frame_h, (x + width) / frame_w, (y + height) / frame_h)


def make(rng: random.Random, previous: Coords | None = None) -> TestPicture:
    """A new picture; `previous`: where the last test's person was."""
    x, y, width, height = _placement(rng, previous)
    grey = rng.randint(*GREYS)
    colour = tuple(min(255, max(0, grey + rng.randint(-TINT, TINT))) for _ in range(3))
    frame = Image.new("RGB", FRAME, colour)
    person = _person().resize((width, height), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        person = ImageOps.mirror(person)
    frame.paste(person, (x, y))
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=rng.randint(*QUALITIES))
    return TestPicture(out.getvalue(), _normalised(x, y, width, height))
