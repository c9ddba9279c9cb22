"""Tamper checks on the small grey copy the camera makes for motion: is it still looking?

Three problems, each a stats problem code (docs/protocol.md):

    covered      very dark or very bright, almost no texture, the scene gone (a hand, a torch)
    defocused    sharpness far below its own running baseline (focus turned, lens sprayed)
    turned_away  most of the scene's textured cells no longer match the reference view

Each measure is meant to survive what a camera sees every day:
- Sharpness is the energy of the finest detail over that of coarser detail: a change of
  light or contrast (lights on or off, dusk, the switch to grey infrared pictures) scales
  both alike, a blur removes the finest first. Noise makes a dark picture look sharper,
  so the baseline is learnt per band of brightness.
- The view is compared cell by cell with a reference: the correlation of each cell's
  detail (the picture minus a blurred copy, so smooth shading does not count) with the
  reference's, which a change of light or contrast does not alter either. Only cells
  with texture in the reference vote, and only a new view that stays counts (a slideshow
  of pictures changes with every frame).
- A person close to the lens covers part of the picture for a few seconds: a problem is
  reported only when the frames have looked wrong for `hold` seconds in a row, and ends
  after `clear` seconds of good frames.

The reference and the sharpness baseline follow the scene slowly (a parked car, shadows,
seasons) while the picture looks right, and stand still while it looks wrong: a camera
knocked to face the wall stays reported until it faces the scene again, is switched off
and on, or the agent restarts (each of which learns the view anew).

Numpy and Pillow's box blur, on the ~160-pixel grey copy: about a millisecond per frame
(docs/performance.md, "Tamper checks").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from ..protocol import COVERED, DEFOCUSED, TURNED_AWAY

DARK = 35.0  # mean grey level (0-255) at or below which a picture is dark
BRIGHT = 220.0  # ... at or above which it is bright
FLAT = 6.0  # grey levels of standard deviation below which a picture has almost no texture
BLANK = 3.0  # ... and below which nothing of the scene is left to compare (a faint ghost of it)
DEFOCUS_RATIO = 0.25  # sharpness below this fraction of its baseline is defocused
CELL = 16  # the view is compared in cells of CELL×CELL grey pixels
DETAIL_RADIUS = 4  # detail = the picture minus its (2r+1)² box blur
TEXTURED = 2.0  # a reference cell votes when its detail varies by at least this (grey levels)
MATCH = 0.35  # a cell matches the reference when their details correlate at least this well
MOVED = 0.6  # more than this fraction of the voting cells do not match: turned away
MIN_VOTES = 6  # fewer textured cells than this: the view is not judged (a plain wall)
LEARN_SECONDS = 60.0  # time constant of the reference and baseline while the picture looks right
MISMATCH_SLOWDOWN = 10  # cells that do not match are learnt this many times more slowly
WARM_UP_FRAMES = 3  # frames that only learn, after a start or a change of picture size
LEARN_EVERY = 1.0  # seconds between two steps of learning (a step costs more than a check)
# Noise makes a dark picture look sharper: sharpness is compared with a baseline learnt at
# the same light, one per band of BAND grey levels of the picture's mean.
BAND = 32
BAND_FRAMES = 5  # steps a band must have learnt before it judges


@dataclass(frozen=True, slots=True)
class Measures:
    """What one frame looked like; for logs, tests and the bench."""

    mean: float
    std: float
    sharpness: float  # finest / coarser detail energy
    baseline: float  # the sharpness baseline at this light (0 while it is not learnt)
    moved: float  # fraction of the voting cells that do not match the reference
    votes: int  # textured reference cells
    suspect: str | None  # the code this frame alone points to


@dataclass(slots=True)
class _Run:
    """An unbroken stretch of suspect frames: when it began and what each frame suggested."""

    since: float
    codes: Counter[str] = field(default_factory=Counter)
    good_since: float | None = None  # the first good frame after it, if any


def _blurred(grey: Image.Image, radius: int) -> npt.NDArray[np.float32]:
    return np.asarray(grey.filter(ImageFilter.BoxBlur(radius)), dtype=np.float32)


def sharpness(
    grey: npt.NDArray[np.float32], fine: npt.NDArray[np.float32], coarse: npt.NDArray[np.float32]
) -> float:
    """Energy of the finest detail over that of coarser detail: light-proof, blur-sensitive.

    `fine` and `coarse` are box blurs of `grey` of radius 1 and DETAIL_RADIUS."""
    finest = grey - fine
    coarser = fine - coarse
    energy = float((coarser * coarser).mean())
    return float((finest * finest).mean()) / energy if energy > 1e-3 else 0.0


def _cells(values: npt.NDArray[np.float32], rows: int, cols: int) -> npt.NDArray[np.float32]:
    """(rows, cols, CELL*CELL): each cell's pixels in a row."""
    cut = values[: rows * CELL, : cols * CELL]
    return cut.reshape(rows, CELL, cols, CELL).transpose(0, 2, 1, 3).reshape(rows, cols, CELL * CELL)


def _compare(
    detail: npt.NDArray[np.float32], reference: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per cell: does it match the reference's detail, and does it vote (textured reference)."""
    rows, cols = detail.shape[0] // CELL, detail.shape[1] // CELL
    now_cells, ref_cells = _cells(detail, rows, cols), _cells(reference, rows, cols)
    now_cells = now_cells - now_cells.mean(axis=2, keepdims=True)
    ref_cells = ref_cells - ref_cells.mean(axis=2, keepdims=True)
    ref_norm = np.sqrt((ref_cells * ref_cells).sum(axis=2))
    now_norm = np.sqrt((now_cells * now_cells).sum(axis=2))
    voting = ref_norm >= TEXTURED * CELL  # std of the cell's detail ≥ TEXTURED
    correlation = (now_cells * ref_cells).sum(axis=2) / np.maximum(ref_norm * now_norm, 1e-6)
    return voting & (correlation >= MATCH), voting


class TamperCheck:
    """One camera's tamper state; `update(grey, now)` for every frame, in order."""

    def __init__(self, hold: float, clear: float) -> None:
        self.hold = hold  # seconds of suspect frames before a problem is reported
        self.clear = clear  # seconds of good frames before it ends
        self.problem: str | None = None  # the code reported now
        self.reset()

    def reset(self) -> None:
        """Forget the scene (the camera was switched off, or its picture size changed)."""
        self._reference: npt.NDArray[np.float32] | None = None
        self._reference_detail: npt.NDArray[np.float32] | None = None  # cached between steps
        self._previous_detail: npt.NDArray[np.float32] | None = None  # the frame before
        bands = 256 // BAND
        self._baselines = np.zeros(bands)  # sharpness per band of mean grey level
        self._learnt = np.zeros(bands, dtype=np.int64)  # steps each band has learnt
        self._frames = 0
        self._learnt_at: float | None = None
        self._run: _Run | None = None
        self.problem = None

    def update(self, image: Image.Image, now: float) -> Measures:
        """Judge one frame (its small grey copy, mode L, and its time in seconds); `problem`
        says the outcome."""
        grey = np.asarray(image, dtype=np.float32)
        if self._reference is not None and self._reference.shape != grey.shape:
            self.reset()
        mean, std = float(grey.mean()), float(grey.std())
        coarse = _blurred(image, DETAIL_RADIUS)
        sharp = sharpness(grey, _blurred(image, 1), coarse)
        band = min(int(mean) // BAND, len(self._baselines) - 1)
        baseline = float(self._baselines[band]) if self._learnt[band] >= BAND_FRAMES else 0.0
        self._frames += 1
        if self._reference is None or self._frames <= WARM_UP_FRAMES:
            self._learn(grey, sharp, band, None, now)
            return Measures(mean, std, sharp, baseline, 0.0, 0, None)

        detail = grey - coarse
        if self._reference_detail is None:
            reference = Image.fromarray(np.clip(self._reference + 0.5, 0, 255).astype(np.uint8))
            self._reference_detail = self._reference - _blurred(reference, DETAIL_RADIUS)
        matched, voting = _compare(detail, self._reference_detail)
        votes = int(voting.sum())
        moved = 1.0 - float(matched.sum()) / votes if votes else 0.0
        lost = votes < MIN_VOTES or moved > MOVED  # the scene is not there any more
        # A new view that stays (a camera turned) is not one that changes with every frame
        # (a slideshow of pictures, the `images:` demo): only the first is turned away.
        steady = True
        if self._previous_detail is not None and self._previous_detail.shape == detail.shape:
            same, textured = _compare(detail, self._previous_detail)
            changed = 1.0 - int(same.sum()) / max(1, int(textured.sum()))
            steady = int(textured.sum()) < MIN_VOTES or changed <= MOVED
        self._previous_detail = detail
        suspect: str | None = None
        if (mean <= DARK or mean >= BRIGHT) and (std < BLANK or (std < FLAT and lost)):
            suspect = COVERED
        elif sharp < DEFOCUS_RATIO * baseline:
            suspect = DEFOCUSED
        elif lost and steady and votes >= MIN_VOTES:
            suspect = TURNED_AWAY
        self._judge(suspect, now)
        if suspect is None and self._run is None:
            self._learn(grey, sharp, band, matched | ~voting, now)
        return Measures(mean, std, sharp, baseline, moved, votes, suspect)

    def _learn(
        self,
        grey: npt.NDArray[np.float32],
        sharp: float,
        band: int,
        follow: npt.NDArray[np.bool_] | None,
        now: float,
    ) -> None:
        """Follow the scene, at most every LEARN_EVERY seconds: the sharpness baseline of this
        light, and the reference (cells in `follow` at the full rate, the others
        MISMATCH_SLOWDOWN times more slowly; all of them during the warm-up)."""
        if self._reference is None:
            self._reference, self._learnt_at = grey.copy(), now
        elif follow is not None and self._learnt_at is not None and now - self._learnt_at < LEARN_EVERY:
            return
        rate = 0.5 if follow is None else min(1.0, (now - (self._learnt_at or now)) / LEARN_SECONDS)
        self._learnt_at = now
        first = self._learnt[band] == 0
        self._baselines[band] += (1.0 if first else max(rate, 1 / BAND_FRAMES)) * (
            sharp - self._baselines[band]
        )
        self._learnt[band] += 1
        self._reference_detail = None
        if follow is None:
            self._reference += rate * (grey - self._reference)
            return
        per_cell = np.where(follow, rate, rate / MISMATCH_SLOWDOWN).astype(np.float32)
        per_pixel = np.repeat(np.repeat(per_cell, CELL, axis=0), CELL, axis=1)
        rates = np.full(grey.shape, rate, dtype=np.float32)  # edge pixels outside whole cells
        rates[: per_pixel.shape[0], : per_pixel.shape[1]] = per_pixel
        self._reference += rates * (grey - self._reference)

    def _judge(self, suspect: str | None, now: float) -> None:
        """Hold and clear: a problem needs `hold` seconds of suspect frames, `clear` of good ones."""
        run = self._run
        if suspect is not None:
            if run is None:
                run = self._run = _Run(now)
            run.codes[suspect] += 1
            run.good_since = None
            if self.problem is not None or now - run.since >= self.hold:
                self.problem = run.codes.most_common(1)[0][0]
            return
        if run is None:
            return
        if run.good_since is None:
            run.good_since = now
        # Before a report one good frame ends the run; a report ends after `clear` seconds.
        if self.problem is None or now - run.good_since >= self.clear:
            self._run, self.problem = None, None
