"""`bobby-edge detect IMAGE...`: run the model on files, one JSON line per image.

Exit code 0 when every image was read, 1 when any was not (its line carries "error").
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import decode
from .pipeline import Analysis, Pipeline

_LOGGER = logging.getLogger(__name__)

FILE_LIMIT = 256 * 1024 * 1024  # files are trusted more than network frames


def _analyse_other_format(pipeline: Pipeline, data: bytes, tiles: bool) -> Analysis:
    """PNG and other formats Pillow reads (frames on MQTT are always JPEG)."""
    from PIL import Image, UnidentifiedImageError

    try:
        import io

        with Image.open(io.BytesIO(data)) as image:
            decode.check_size(*image.size)
            rgb = np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError as err:
        raise decode.InvalidFrame(f"image too large: {err}") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        if isinstance(err, decode.InvalidFrame):
            raise
        raise decode.InvalidFrame(f"not an image Pillow can read: {err}") from None
    return pipeline.analyse_rgb(rgb, tiles=tiles)


def detect_one(
    pipeline: Pipeline, path: str, threshold: float, min_area: float, tiles: bool = True
) -> dict[str, Any]:
    data = Path(path).read_bytes()
    if data.startswith(decode.JPEG_MAGIC):
        analysis = pipeline.analyse(data, tiles=tiles)
    else:
        analysis = _analyse_other_format(pipeline, data, tiles)
    people = analysis.select(threshold, min_area)
    return {
        "image": path,
        "person": bool(people),
        "person_count": len(people),
        "score": people[0].score if people else 0.0,
        "boxes": [{"score": p.score, "box": list(p.box)} for p in people],
        "inference_ms": round(analysis.inference_ms, 2),
        "tiles": analysis.tile_crops,
    }


def detect_files(args: argparse.Namespace) -> int:
    pipeline = Pipeline.open(
        args.model,
        threads=args.threads,
        labels=args.labels,
        person_class=args.person_class,
        max_payload=FILE_LIMIT,
    )
    failed = False
    for path in args.images:
        try:
            line = detect_one(pipeline, path, args.threshold, args.min_area, args.tiles)
        except (OSError, decode.InvalidFrame) as err:
            failed = True
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            _LOGGER.error("cannot analyse %s: %s", path, reason)
            line = {"image": path, "error": f"cannot analyse {path}: {reason}"}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
    return 1 if failed else 0
