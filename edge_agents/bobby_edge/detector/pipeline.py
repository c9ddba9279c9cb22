"""The hot path without MQTT: JPEG bytes → decode → infer → people.

`Pipeline.analyse()` is what the agent calls for every frame and what `bench/` times
against the bare `Model.invoke()`; it holds no MQTT, no threads and no per-camera state.

    pipeline = Pipeline.open("deeplabv3.tflite")
    result = pipeline.analyse(jpeg_bytes)        # InvalidFrame for bad input
    result = pipeline.analyse(jpeg_bytes, regions=[(0.1, 0.2, 0.2, 0.5)])  # + squares there
    result = pipeline.analyse(jpeg_bytes, tiles=True)   # + overlapping tiles (see crops.py)
    people = result.select(threshold=0.5, min_area=0.0)

With regions or tiles the whole frame is still analysed (a large person is found there);
each square is cut from a second, higher-resolution decode of the same JPEG.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import DEFAULT_MAX_PAYLOAD, DEFAULT_THREADS
from ..errors import StartupError
from ..protocol import DEFAULT_OBJECTS
from . import crops, decode, model_store, normalise, runtime
from .models import Box, ModelError, ModelFamily, ModelOptions, Person, recognise

_LOGGER = logging.getLogger(__name__)

_INDEXED_LABEL = re.compile(r"^\s*(\d+)[\s:]+(.+?)\s*$")


def load_labels(path: str | Path) -> list[str]:
    """One label per line, or `<index> <label>` lines (both common beside .tflite files)."""
    try:
        lines = [line.rstrip("\r\n") for line in Path(path).read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as err:
        raise StartupError(f"cannot read labels file {path}: {err}; check --labels") from None
    while lines and not lines[-1].strip():
        lines.pop()
    indexed = [_INDEXED_LABEL.match(line) for line in lines if line.strip()]
    if indexed and all(indexed):
        by_index = {int(m.group(1)): m.group(2) for m in indexed if m}
        return [by_index.get(i, "") for i in range(max(by_index) + 1)]
    return [line.strip() for line in lines]


@dataclass(frozen=True, slots=True)
class Analysis:
    """The result of one frame: every person candidate, best first, and the times."""

    people: list[Person]
    decode_ms: float
    inference_ms: float  # interpreter.invoke() only, summed over the runs of this frame
    total_ms: float
    region_crops: int = 0  # model runs on squares around motion regions (besides the whole frame)
    tile_crops: int = 0  # model runs on tiles
    regions_capped: int = 0  # squares left out by crops.MAX_REGION_CROPS
    normalised: bool = False  # a dark or flat frame, contrast-stretched before inference (normalise.py)

    def select(self, threshold: float, min_area: float = 0.0) -> list[Person]:
        return [p for p in self.people if p.score >= threshold and p.area >= min_area]


class Model:
    """A loaded .tflite model and the family that reads it."""

    def __init__(
        self,
        path: str | Path,
        threads: int = DEFAULT_THREADS,
        labels: str | Path | None = None,
        person_class: int | str = "person",
    ) -> None:
        self.path = Path(path)
        self.threads = threads
        self.interpreter: Any = runtime.load_interpreter(self.path, threads)
        inputs, outputs = runtime.describe(self.interpreter)
        options = ModelOptions(labels=load_labels(labels) if labels else None, person_class=person_class)
        try:
            self.family: ModelFamily = recognise(inputs, outputs, options)
        except ModelError as err:
            raise StartupError(f"model {self.path}: {err}") from None
        self._input_index = inputs[0].index
        self._output_indices = [t.index for t in outputs]
        _LOGGER.info(
            "model %s: %s, input %dx%d, %d thread(s)",
            self.path.name,
            self.family.describe(),
            *self.input_size,
            threads,
        )

    @property
    def input_size(self) -> tuple[int, int]:
        return self.family.input_size

    def describe(self) -> str:
        return f"{self.path.name} ({self.family.describe()})"

    def invoke(self, tensor: npt.NDArray[Any]) -> float:
        """Run the model on a prepared input tensor; returns milliseconds."""
        self.interpreter.set_tensor(self._input_index, tensor)
        started = time.perf_counter()
        self.interpreter.invoke()
        return (time.perf_counter() - started) * 1000

    def people(self, objects: tuple[str, ...] = DEFAULT_OBJECTS) -> list[Person]:
        """Post-process the outputs of the last `invoke()`: the objects of these labels."""
        # tensor() gives views, not copies (DeepLab's output is 5.5 MB); they are dropped
        # before the next invoke(), as LiteRT requires.
        outputs = [self.interpreter.tensor(i)() for i in self._output_indices]
        try:
            return self.family.postprocess(outputs, objects)
        finally:
            del outputs

    def detect(
        self, rgb: npt.NDArray[np.uint8], objects: tuple[str, ...] = DEFAULT_OBJECTS
    ) -> tuple[list[Person], float]:
        """People (or the objects of these labels) in an RGB image of `input_size`, and the
        inference time in ms."""
        inference_ms = self.invoke(self.family.preprocess(rgb))
        return self.people(objects), inference_ms


class Pipeline:
    """decode → infer, for one model; not thread-safe (one per worker thread)."""

    def __init__(self, model: Model, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.model = model
        self.max_payload = max_payload

    @classmethod
    def open(
        cls,
        model_path: str | Path | None = None,
        *,
        threads: int = DEFAULT_THREADS,
        labels: str | Path | None = None,
        person_class: int | str = "person",
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> Pipeline:
        """A pipeline for `model_path`, or for the fetched default model."""
        if model_path is None:
            model_path = model_store.default_model_path()
            if not model_path.is_file():
                raise StartupError(
                    f"the default model is not installed at {model_path}: run `bobby-edge model fetch` "
                    "(or pass --model PATH to a .tflite file)"
                )
        return cls(Model(model_path, threads, labels, person_class), max_payload)

    def analyse(
        self,
        jpeg: bytes,
        regions: tuple[Box, ...] | list[Box] | None = None,
        tiles: bool = False,
        fine_tiles: bool = True,
        objects: tuple[str, ...] = DEFAULT_OBJECTS,
    ) -> Analysis:
        """One frame, top to bottom. Raises decode.InvalidFrame for unusable input.

        `regions`: squares around these boxes are analysed too (an empty list: the camera saw
        no motion, the whole frame only). `tiles`: when there are no regions (None), tiles;
        `fine_tiles`: with the finer level too (crops.tile_crops; ~4× the cost of the first).
        `objects`: the labels looked for (the camera's choice; default person only).
        """
        started = time.perf_counter()
        size = self.model.input_size
        scaled, (width, height) = decode.decode_scaled(jpeg, size, self.max_payload)
        squares, kind, capped = self._plan(width, height, regions, tiles, fine_tiles)
        full = None
        if squares:
            # Decode again at the scale that keeps the smallest square near the model input.
            smallest = min(c.side for c in squares)
            target = (math.ceil(width * size[0] / smallest), math.ceil(height * size[1] / smallest))
            full = decode.decode_scaled(jpeg, target, self.max_payload)[0]
        decoded = time.perf_counter()
        return self._run(
            decode.resize_nearest(scaled, size),
            full,
            frame_size=(width, height),
            squares=squares,
            kind=kind,
            capped=capped,
            started=started,
            decoded=decoded,
            objects=objects,
        )

    def analyse_rgb(
        self,
        rgb: npt.NDArray[np.uint8],
        regions: tuple[Box, ...] | list[Box] | None = None,
        tiles: bool = False,
        fine_tiles: bool = True,
        objects: tuple[str, ...] = DEFAULT_OBJECTS,
    ) -> Analysis:
        """The same for an image already decoded (a PNG given to `bobby-edge detect`)."""
        started = time.perf_counter()
        height, width = rgb.shape[:2]
        squares, kind, capped = self._plan(width, height, regions, tiles, fine_tiles)
        whole = decode.resize_nearest(rgb, self.model.input_size)
        decoded = time.perf_counter()
        return self._run(
            whole,
            rgb if squares else None,
            frame_size=(width, height),
            squares=squares,
            kind=kind,
            capped=capped,
            started=started,
            decoded=decoded,
            objects=objects,
        )

    def _plan(
        self,
        width: int,
        height: int,
        regions: tuple[Box, ...] | list[Box] | None,
        tiles: bool,
        fine_tiles: bool = True,
    ) -> tuple[list[crops.Crop], str, int]:
        model_side = max(self.model.input_size)
        if regions is not None:
            squares, capped = crops.region_crops(regions, width, height, model_side)
            return squares, "regions", capped
        if tiles:
            return crops.tile_crops(width, height, model_side, fine=fine_tiles), "tiles", 0
        return [], "", 0

    def _detect_square(
        self,
        full: npt.NDArray[np.uint8],
        scale: float,
        square: crops.Crop,
        lut: npt.NDArray[np.uint8] | None,
        objects: tuple[str, ...] = DEFAULT_OBJECTS,
    ) -> tuple[list[Person], float]:
        """The model on one square of the full-resolution decode (`scale` × frame pixels)."""
        top, left = round(square.y * scale), round(square.x * scale)
        side = round(square.side * scale)
        cut = decode.resize_nearest(full[top : top + side, left : left + side], self.model.input_size)
        if lut is not None:
            cut = normalise.apply(lut, cut)
        return self.model.detect(cut, objects)

    def _run(
        self,
        whole: npt.NDArray[np.uint8],
        full: npt.NDArray[np.uint8] | None,
        *,
        frame_size: tuple[int, int],
        squares: list[crops.Crop],
        kind: str,
        capped: int,
        started: float,
        decoded: float,
        objects: tuple[str, ...] = DEFAULT_OBJECTS,
    ) -> Analysis:
        lut = normalise.stretch_lut(whole)  # None for a day frame: its pixels stay as they are
        if lut is not None:
            whole = normalise.apply(lut, whole)
        people, inference_ms = self.model.detect(whole, objects)
        runs = len(squares)
        if squares and full is not None:
            width, height = frame_size
            scale = full.shape[1] / width
            candidates = [(p, False) for p in people]
            model_side = max(self.model.input_size)
            runs = 0
            for square in squares:
                found, ms = self._detect_square(full, scale, square, lut, objects)
                mapped = [crops.to_frame(p, square, width, height) for p in found]
                runs += 1
                if kind == "regions" and square.side < model_side and mapped and all(c for _, c in mapped):
                    # A square tighter than the model input (a small region) cut all it found:
                    # someone larger than the region; look again in a model-sized square.
                    wider = crops.widened(square, model_side, width, height)
                    found, more_ms = self._detect_square(full, scale, wider, lut, objects)
                    ms += more_ms
                    mapped = [crops.to_frame(p, wider, width, height) for p in found]
                    runs += 1
                inference_ms += ms
                candidates.extend(mapped)
            people = crops.merge(candidates, width, height)
        else:
            people = crops.join_parts(people, *frame_size)
        finished = time.perf_counter()
        return Analysis(
            people,
            round((decoded - started) * 1000, 3),
            round(inference_ms, 3),
            round((finished - started) * 1000, 3),
            region_crops=runs if kind == "regions" else 0,
            tile_crops=len(squares) if kind == "tiles" else 0,
            regions_capped=capped,
            normalised=lut is not None,
        )
