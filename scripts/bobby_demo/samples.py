"""The demo camera's pictures: scenes with and without a person, made at run time.

scikit-image ships a few public-domain / CC0 pictures: `astronaut` and `camera` show a
person, `chelsea` (a cat), `coffee` and `rocket` do not. We write them as 640×480 JPEGs,
letterboxed, into a folder that `bobby-edge camera --source images:DIR` plays in name
order: a block of person frames, then a longer block of empty scenes, over and over.
"""

from __future__ import annotations

import logging
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

PERSON_SCENES = ("astronaut", "camera")
EMPTY_SCENES = ("chelsea", "coffee", "rocket")
SIZE = (640, 480)


def scene(name: str):  # type: ignore[no-untyped-def]  # -> PIL.Image.Image
    from PIL import Image
    from skimage import data

    picture = Image.fromarray(getattr(data, name)()).convert("RGB")
    picture.thumbnail(SIZE)
    canvas = Image.new("RGB", SIZE, (40, 40, 40))
    canvas.paste(picture, ((SIZE[0] - picture.width) // 2, (SIZE[1] - picture.height) // 2))
    return canvas


def _numbered(picture, index: int):  # type: ignore[no-untyped-def]  # PIL images in and out
    """The picture with its frame number in the bottom-left corner: no two frames in a row
    are the same, so live view visibly moves (and a browser test can count its frames)."""
    from PIL import ImageDraw

    numbered = picture.copy()
    draw = ImageDraw.Draw(numbered)
    draw.rectangle((0, SIZE[1] - 24, 96, SIZE[1]), fill=(0, 0, 0))
    draw.text((6, SIZE[1] - 20), f"{index:04d}", fill=(255, 255, 255))
    return numbered


def make_samples(
    dest: Path, *, fps: float = 2.0, person_seconds: float = 8.0, empty_seconds: float = 16.0
) -> list[tuple[str, bool]]:
    """Write one cycle of frames into `dest` (emptied first); returns (file name, has person)."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.jpg"):
        old.unlink()
    person_frames = max(1, round(person_seconds * fps))
    empty_frames = max(1, round(empty_seconds * fps))
    scenes = {name: scene(name) for name in (*PERSON_SCENES, *EMPTY_SCENES)}
    plan = [(PERSON_SCENES[i * len(PERSON_SCENES) // person_frames], True) for i in range(person_frames)]
    plan += [(EMPTY_SCENES[i * len(EMPTY_SCENES) // empty_frames], False) for i in range(empty_frames)]
    written = []
    for index, (name_of_scene, person) in enumerate(plan):
        name = f"{index:04d}-{name_of_scene}.jpg"
        _numbered(scenes[name_of_scene], index).save(dest / name, quality=85)
        written.append((name, person))
    _LOGGER.info("sample source: %d frames (%d with a person) in %s", len(plan), person_frames, dest)
    return written
