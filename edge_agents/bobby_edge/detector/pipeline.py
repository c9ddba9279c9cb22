"""The hot path without MQTT: JPEG bytes → decode → infer → people.

`Pipeline.analyse()` is what the agent calls for every frame and what `bench/` times
against the bare `Model.invoke()`; it holds no MQTT, no threads and no per-camera state.

    pipeline = Pipeline.open("deeplabv3.tflite", threads=2)
    result = pipeline.analyse(jpeg_bytes)        # InvalidFrame for bad input
    people = result.select(threshold=0.5, min_area=0.0)
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import DEFAULT_MAX_PAYLOAD
from ..service import StartupError
from . import decode, model_store, runtime
from .models import ModelError, ModelFamily, ModelOptions, Person, recognise

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
    inference_ms: float  # interpreter.invoke() only: comparable with the bare model
    total_ms: float

    def select(self, threshold: float, min_area: float = 0.0) -> list[Person]:
        return [p for p in self.people if p.score >= threshold and p.area >= min_area]


class Model:
    """A loaded .tflite model and the family that reads it."""

    def __init__(
        self,
        path: str | Path,
        threads: int = 2,
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

    def people(self) -> list[Person]:
        """Post-process the outputs of the last `invoke()`."""
        # tensor() gives views, not copies (DeepLab's output is 5.5 MB); they are dropped
        # before the next invoke(), as LiteRT requires.
        outputs = [self.interpreter.tensor(i)() for i in self._output_indices]
        try:
            return self.family.postprocess(outputs)
        finally:
            del outputs

    def detect(self, rgb: npt.NDArray[np.uint8]) -> tuple[list[Person], float]:
        """People in an RGB image of `input_size`, and the inference time in ms."""
        inference_ms = self.invoke(self.family.preprocess(rgb))
        return self.people(), inference_ms


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
        threads: int = 2,
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

    def analyse(self, jpeg: bytes) -> Analysis:
        """One frame, top to bottom. Raises decode.InvalidFrame for unusable input."""
        started = time.perf_counter()
        rgb = decode.decode(jpeg, self.model.input_size, self.max_payload)
        decoded = time.perf_counter()
        people, inference_ms = self.model.detect(rgb)
        finished = time.perf_counter()
        return Analysis(
            people,
            round((decoded - started) * 1000, 3),
            round(inference_ms, 3),
            round((finished - started) * 1000, 3),
        )
