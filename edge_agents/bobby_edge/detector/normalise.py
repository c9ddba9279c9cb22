"""Night and low-contrast frames: a contrast stretch on the luminance before inference.

An IR camera at night, or any camera at dusk, sends frames whose brightest pixels are far
below white and whose grey levels fill a narrow band: DeepLab, trained on daylight photos,
loses people there that a person sees at once. `stretch_lut()` looks at the model-sized copy
of the frame (257×257, the whole frame) and, only when the frame needs it, returns a lookup
table that maps its 1st–99th luminance percentiles onto 0–255; the pipeline applies it to
the whole frame and to the squares it cuts. A frame that is bright and contrasted enough
gets no table: its pixels reach the model bit for bit as before.

Why a global stretch and not equalisation: measured on night versions of the shipped
scenes (grey, 2–30 % brightness, sensor noise, blur), a stretch found the astronaut down to
3 % brightness where the unchanged frame lost her at 6 %, and added no box on the empty
scenes; histogram equalisation found no more people and added false boxes on chelsea and
coffee (it spreads the noise of large flat areas over the whole range). CLAHE-like local
equalisation (scikit-image's `equalize_adapthist`, for the measurement only) did no better
than the stretch and would need a new dependency or a tiled numpy version. One table,
applied per channel, keeps colour where there is any (the same gain on R, G and B); its
cost per frame is in docs/performance.md (bench/run, hard scenes).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DARK = 128  # the brightest 1 % of the frame below this luminance: a dark frame
LOW_CONTRAST = 96  # 1st to 99th luminance percentile spanning less than this: a flat frame
MIN_SPREAD = 4  # narrower than this is a black (or uniform) frame: nothing to stretch
PERCENTILE = 0.01  # the share of pixels clipped at each end


def luminance(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """ITU-R BT.601 luma in integers (what JPEG stores): (77 R + 150 G + 29 B) / 256."""
    r, g, b = (rgb[..., i].astype(np.uint16) for i in range(3))
    luma = (r * np.uint16(77) + g * np.uint16(150) + b * np.uint16(29)) >> np.uint16(8)
    result: npt.NDArray[np.uint8] = luma.astype(np.uint8)
    return result


def stretch_lut(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8] | None:
    """A table mapping the frame's 1st–99th luminance percentiles onto 0–255, or None when
    the frame is bright and contrasted enough (or uniform) and must be left as it is."""
    # Every other pixel each way: the percentiles of a quarter of the pixels are the same.
    counts = np.bincount(luminance(rgb[::2, ::2]).ravel(), minlength=256).cumsum()
    total = counts[-1]
    low = int(np.searchsorted(counts, PERCENTILE * total))
    high = int(np.searchsorted(counts, (1 - PERCENTILE) * total))
    spread = high - low
    if (high >= DARK and spread >= LOW_CONTRAST) or spread < MIN_SPREAD:
        return None
    levels = (np.arange(256, dtype=np.float32) - low) * (255 / spread)
    return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def apply(lut: npt.NDArray[np.uint8], rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    stretched: npt.NDArray[np.uint8] = np.take(lut, rgb)
    return stretched
