"""The `snapshot` image: the frame with the boxes drawn and labelled, as JPEG (Pillow).

Only made when a detection is published and the per-camera snapshot interval has
passed, so its cost (a few ms) stays off most frames.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from .models import Person

MAX_WIDTH = 1280  # larger frames are drafted down (JPEG scaled decode) before drawing
BOX_COLOUR = (255, 40, 40)
QUALITY = 80


def render(jpeg: bytes, people: list[Person]) -> bytes:
    with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as source:
        width, height = source.size
        divisor = 1
        while width // divisor > MAX_WIDTH and divisor < 8:
            divisor *= 2
        source.draft("RGB", (width // divisor, height // divisor))
        image = source.convert("RGB")
    draw = ImageDraw.Draw(image)
    w, h = image.size
    line = max(2, w // 200)
    for person in people:
        xmin, ymin, xmax, ymax = person.box
        draw.rectangle((xmin * w, ymin * h, xmax * w, ymax * h), outline=BOX_COLOUR, width=line)
        draw.text(
            (xmin * w + line + 2, ymin * h + line + 2), f"{person.label} {person.score:.2f}", fill=BOX_COLOUR
        )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()
