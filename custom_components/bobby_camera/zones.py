"""Zones of a camera: named areas of its frame, decided in Home Assistant.

A detection's object stands where the bottom centre of its box is (its feet, a car's
wheels): it is in every zone whose polygon holds that point. Zones never leave Home
Assistant; masks do (the camera sends them with each frame and detectors apply them),
and both are drawn on the *Last detection* picture so the owner sees what they set.
Polygons follow `protocol.check_polygon` (coordinates 0-1 of the frame).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any, Final

from . import protocol

MAX_ZONES: Final = protocol.MAX_MASKS
MAX_ZONE_NAME: Final = 64
ZONE_COLOUR: Final = (40, 200, 255)
MASK_COLOUR: Final = (160, 160, 160)


class ZoneNameError(protocol.ProtocolError):
    """A zone name that cannot be one (empty, too long, control characters)."""


def check_zones(value: object) -> dict[str, list[list[float]]]:
    """Zones as the owner gives them: {name: polygon}, at most MAX_ZONES; checked, as JSON lists."""
    if not isinstance(value, Mapping) or len(value) > MAX_ZONES:
        raise protocol.ProtocolError(f"zones must be a mapping of up to {MAX_ZONES} names to polygons")
    zones: dict[str, list[list[float]]] = {}
    for name, polygon in value.items():
        if not isinstance(name, str) or not protocol.is_valid_text(name) or len(name) > MAX_ZONE_NAME:
            raise ZoneNameError(f"zone name {name!r:.40} must be 1-{MAX_ZONE_NAME} characters")
        zones[name] = [[x, y] for x, y in protocol.check_polygon(polygon, f"zone {name!r}")]
    return zones


def standing_point(box: Iterable[float]) -> tuple[float, float]:
    """Where an object stands: the bottom centre of its [xmin, ymin, xmax, ymax] box."""
    xmin, _ymin, xmax, ymax = box
    return (xmin + xmax) / 2, ymax


def zones_of(box: Iterable[float], zones: Mapping[str, list[list[float]]]) -> list[str]:
    """The zones (in their order) the object with this box stands in."""
    x, y = standing_point(box)
    return [name for name, polygon in zones.items() if protocol.polygon_contains(_points(polygon), x, y)]


def _points(polygon: list[list[float]]) -> protocol.Polygon:
    return tuple((p[0], p[1]) for p in polygon)


def draw(jpeg: bytes, zones: Mapping[str, list[list[float]]], masks: Iterable[list[list[float]]]) -> bytes:
    """The picture with the masks (grey) and zones (blue, named) outlined; blocking (Pillow)."""
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as source:
        image = source.convert("RGB")
    pen = ImageDraw.Draw(image)
    width, height = image.size
    line = max(2, width // 320)

    def corners(polygon: list[list[float]]) -> list[tuple[float, float]]:
        return [(x * width, y * height) for x, y in polygon]

    for polygon in masks:
        points = corners(polygon)
        pen.line([*points, points[0]], fill=MASK_COLOUR, width=line)
        pen.text((points[0][0] + line + 2, points[0][1] + line + 2), "mask", fill=MASK_COLOUR)
    for name, polygon in zones.items():
        points = corners(polygon)
        pen.line([*points, points[0]], fill=ZONE_COLOUR, width=line)
        pen.text((points[0][0] + line + 2, points[0][1] + line + 2), name, fill=ZONE_COLOUR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def overlay_key(zones: Mapping[str, Any] | None, masks: Any) -> str:
    """What the drawn picture depends on besides the image (for a cache)."""
    return repr((sorted((zones or {}).items()), masks or []))
