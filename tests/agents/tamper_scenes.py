"""Generated frame sequences for the tamper checks: what must be caught, what must not.

Each sequence is a scikit-image scene seen by a 640×480 camera at the default 2 fps as
JPEG, with fresh sensor noise in every frame: WARM_UP seconds of the normal view, then
the case from `CHANGE_AT` on. `run()` passes the frames through the camera's own grey
copy and `TamperCheck`, and `figures()` gives the catch rate, the false reports and the
time to report over every scene × case (docs/performance.md; `python -m
tests.agents.tamper_scenes` prints them).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from skimage import data

from bobby_edge.camera.motion import small_grey
from bobby_edge.camera.tamper import COVERED, DEFOCUSED, TURNED_AWAY, TamperCheck
from bobby_edge.config import DEFAULT_FPS, DEFAULT_TAMPER_CLEAR, DEFAULT_TAMPER_HOLD

SCENES = ("astronaut", "camera", "chelsea", "coffee", "rocket")
SIZE = (640, 480)
CANVAS = (960, 720)  # the scene is wider and taller than the view: a 25 % shift finds more of it
VIEW_AT = (160, 120)  # the normal view's corner on the canvas
WARM_UP = 12.0  # seconds of the normal view first
CHANGE_AT = WARM_UP
LENGTH = 36.0  # seconds in all
NOISE = 2.0  # grey levels of sensor noise per frame
QUALITY = 80  # the camera's default JPEG quality

Pixels = np.ndarray[Any, Any]
Frame = Callable[[float], Pixels]  # seconds since the start → RGB pixels of the view


def canvas(name: str) -> Pixels:
    return np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize(CANVAS)).astype(np.float32)


def view(pixels: Pixels, dx: int = 0, dy: int = 0) -> Pixels:
    x, y = VIEW_AT[0] + dx, VIEW_AT[1] + dy
    return pixels[y : y + SIZE[1], x : x + SIZE[0]]


@cache
def _person(height: int) -> tuple[Image.Image, Image.Image]:
    """The astronaut `height` px tall (out of focus when close to the lens), and her mask."""
    person = Image.fromarray(np.asarray(data.astronaut())[18:512, 0:370])
    width = round(person.width * height / person.height)
    person = person.resize((width, height))
    if height > SIZE[1] // 2:
        person = person.filter(ImageFilter.GaussianBlur(height / 60))
    mask = Image.new("L", person.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, width - 1, height - 1), fill=255)
    return person, mask


def walking(frame: Pixels, t: float, start: float, seconds: float, height: int) -> Pixels:
    """A person `height` px tall crossing the view from left to right in `seconds` from `start`;
    close to the lens (tall) they are out of focus."""
    if not start <= t < start + seconds:
        return frame
    person, mask = _person(height)
    x = round(-person.width + (SIZE[0] + person.width) * (t - start) / seconds)
    out = Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8))
    out.paste(person, (x, SIZE[1] - height), mask)
    return np.asarray(out).astype(np.float32)


def infrared(frame: Pixels) -> Pixels:
    """What a camera's night mode sends: grey from another mix of colours (leaves and skin are
    bright in near infrared), a harder contrast curve, more noise."""
    grey = 0.65 * frame[..., 0] + 0.35 * frame[..., 1]
    grey = 255 * (grey / 255) ** 0.8
    grey = np.clip((grey - grey.mean()) * 1.3 + 110, 0, 255)
    return np.repeat(grey[..., None], 3, axis=2)


def blurred(frame: Pixels, radius: float) -> Pixels:
    image = Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius))).astype(np.float32)


def _ramp(t: float, start: float, seconds: float) -> float:
    return min(1.0, max(0.0, (t - start) / seconds))


@cache
def cases(name: str) -> dict[str, tuple[str | None, Frame]]:
    """Per case: the problem it must raise (None: must raise none) and its frames."""
    pixels = canvas(name)
    normal = view(pixels)
    defocused, night = blurred(normal, 8), infrared(normal)

    def black(t: float) -> Pixels:  # the view fades to black over 1 s (a hand, a cap, tape)
        return normal * (1 - 0.97 * _ramp(t, CHANGE_AT, 1.0))

    def torch(t: float) -> Pixels:  # blinded: a torch or the sun straight into the lens
        return normal + (255 - normal) * 0.97 * _ramp(t, CHANGE_AT, 1.0)

    def blur(t: float) -> Pixels:  # the focus ring turned, or the lens sprayed
        return defocused if t >= CHANGE_AT else normal

    def shift_x(t: float) -> Pixels:  # knocked: the view moves by 25 % of its width
        return view(pixels, SIZE[0] // 4, 0) if t >= CHANGE_AT else normal

    def shift_y(t: float) -> Pixels:  # ... or by 25 % of its height
        return view(pixels, 0, SIZE[1] // 4) if t >= CHANGE_AT else normal

    def lights(t: float) -> Pixels:  # the lights go off at CHANGE_AT and on again 12 s later
        return normal * (0.35 if CHANGE_AT <= t < CHANGE_AT + 12 else 1.0)

    def dusk(t: float) -> Pixels:  # day to night in 30 s (a fast one), dimmer and noisier
        return normal * (1 - 0.8 * _ramp(t, 0, LENGTH - 6))

    def night_mode(t: float) -> Pixels:  # the camera switches to grey infrared pictures
        return night if t >= CHANGE_AT else normal

    def close_person(t: float) -> Pixels:  # someone walks past right in front of the lens, 5 s
        return walking(normal, t, CHANGE_AT, 5.0, SIZE[1])

    def people(t: float) -> Pixels:  # normal motion: people crossing the view at a distance
        frame = walking(normal, t, CHANGE_AT - 10, 8.0, SIZE[1] // 3)
        return walking(frame, t, CHANGE_AT + 2, 14.0, SIZE[1] // 2)

    return {
        "goes black": (COVERED, black),
        "blinded by a torch": (COVERED, torch),
        "heavy blur": (DEFOCUSED, blur),
        "25 % shift sideways": (TURNED_AWAY, shift_x),
        "25 % shift down": (TURNED_AWAY, shift_y),
        "lights off and on": (None, lights),
        "day to night ramp": (None, dusk),
        "grey infrared": (None, night_mode),
        "person close to the lens, 5 s": (None, close_person),
        "people walking": (None, people),
    }


def to_jpeg(pixels: Pixels) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def frames(
    frame: Frame, seed: int, fps: float = DEFAULT_FPS, length: float = LENGTH
) -> Iterator[tuple[float, bytes]]:
    """(seconds, JPEG) of the sequence, with new noise in each frame (more in the dark)."""
    rng = np.random.default_rng(seed)
    # Noise drawn once per sequence and shifted by a random offset in each frame: as random
    # as fresh noise for a 160-pixel grey copy, at a fraction of the cost.
    noise: Pixels | None = None
    for i in range(int(length * fps)):
        t = i / fps
        pixels = frame(t)
        if noise is None:
            noise = rng.standard_normal((pixels.shape[0] + 64, pixels.shape[1] + 64, 3), dtype=np.float32)
        sigma = NOISE * (1 + 2 * (1 - min(1.0, float(pixels.mean()) / 110)))  # the sensor's gain at night
        dy, dx = rng.integers(0, 64, 2)
        pixels = pixels + sigma * noise[dy : dy + pixels.shape[0], dx : dx + pixels.shape[1]]
        yield t, to_jpeg(pixels)


@dataclass(frozen=True, slots=True)
class Outcome:
    scene: str
    case: str
    expected: str | None
    reported: list[tuple[float, str | None]]  # (seconds, problem) at each change of the report

    @property
    def caught_after(self) -> float | None:
        """Seconds from the change to the expected problem's report (None: never reported)."""
        times = [t - CHANGE_AT for t, problem in self.reported if problem == self.expected]
        return times[0] if times and self.expected else None

    @property
    def false_reports(self) -> list[tuple[float, str | None]]:
        """Reports of a problem that was not expected (any, in a case that must raise none)."""
        return [(t, p) for t, p in self.reported if p is not None and p != self.expected]


def grey_copy(jpeg: bytes) -> Image.Image:
    """What the camera agent gives the tamper check: its small grey copy of the frame."""
    return small_grey(jpeg)


def run(
    name: str, case: str, *, hold: float = DEFAULT_TAMPER_HOLD, clear: float = DEFAULT_TAMPER_CLEAR
) -> Outcome:
    expected, frame = cases(name)[case]
    check = TamperCheck(hold, clear)
    reported: list[tuple[float, str | None]] = []
    seed = sum(map(ord, name + case))
    for t, jpeg in frames(frame, seed):
        before = check.problem
        check.update(grey_copy(jpeg), t)
        if check.problem != before:
            reported.append((t, check.problem))
    return Outcome(name, case, expected, reported)


def figures() -> dict[str, Any]:
    outcomes = [run(scene, case) for scene in SCENES for case in cases(scene)]
    must = [o for o in outcomes if o.expected]
    must_not = [o for o in outcomes if not o.expected]
    caught = [o for o in must if o.caught_after is not None and o.caught_after <= 10]
    by_case: dict[str, list[float | None]] = {}
    for o in must:
        by_case.setdefault(o.case, []).append(o.caught_after)
    return {
        "outcomes": outcomes,
        "caught": f"{len(caught)}/{len(must)}",
        "false": f"{sum(1 for o in outcomes if o.false_reports)}/{len(outcomes)}",
        "false_in_harmless": f"{sum(1 for o in must_not if o.false_reports)}/{len(must_not)}",
        "seconds_to_report": by_case,
    }


def cost(size: tuple[int, int], repeats: int = 200) -> tuple[float, float]:
    """Median ms per frame of the tamper check alone, and of the grey copy it shares with motion."""
    scene = canvas("astronaut")
    jpegs = [
        jpeg
        for _, jpeg in frames(
            lambda t: np.asarray(Image.fromarray(view(scene).astype(np.uint8)).resize(size)).astype(
                np.float32
            ),
            1,
            length=5,
        )
    ]
    check = TamperCheck(DEFAULT_TAMPER_HOLD, DEFAULT_TAMPER_CLEAR)
    greys = [grey_copy(j) for j in jpegs]
    check_ms, grey_ms = [], []
    for i in range(repeats):
        jpeg = jpegs[i % len(jpegs)]
        started = time.perf_counter()
        grey = grey_copy(jpeg)
        grey_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        check.update(greys[i % len(greys)], i / DEFAULT_FPS)
        check_ms.append((time.perf_counter() - started) * 1000)
        del grey
    return float(np.median(check_ms)), float(np.median(grey_ms))


if __name__ == "__main__":
    result = figures()
    for o in result["outcomes"]:
        print(f"{o.scene:10} {o.case:32} expected={o.expected!s:12} reported={o.reported}")
    print("caught within 10 s:", result["caught"], " false reports:", result["false"])
    for case, times in result["seconds_to_report"].items():
        print(f"  {case}: {times}")
    for size in ((640, 480), (1280, 720)):
        check_ms, grey_ms = cost(size)
        print(
            f"{size[0]}x{size[1]}: {check_ms:.3f} ms per frame for the check, {grey_ms:.3f} for the grey copy"
        )
