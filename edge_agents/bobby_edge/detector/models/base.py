"""The model-family interface and its registry.

A family turns one kind of model's tensors into person boxes. The pipeline never
branches on which family it holds: it resizes the frame to `input_size`, hands it to
`preprocess`, runs the interpreter, and passes the raw outputs to `postprocess`.
A family is recognised from the model's own tensors (`matches`), never from a flag.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from ...protocol import DEFAULT_OBJECTS, PERSON, Coords
from ..runtime import TensorInfo

Box = Coords  # xmin, ymin, xmax, ymax, normalised 0..1 (the protocol's regions use the same)


class ModelError(ValueError):
    """A model (or its labels / person class) that cannot be used; the text says why."""


@dataclass(frozen=True, slots=True)
class Person:
    """One object found in a frame: a person unless `label` says otherwise (the camera's
    `objects` may pick cars, dogs, ...: docs/protocol.md)."""

    score: float
    box: Box
    label: str = PERSON

    @property
    def area(self) -> float:
        """Box area as a fraction of the frame."""
        xmin, ymin, xmax, ymax = self.box
        return max(0.0, xmax - xmin) * max(0.0, ymax - ymin)


@dataclass(frozen=True, slots=True)
class ModelOptions:
    labels: list[str] | None = None
    person_class: int | str = "person"


def clip_box(xmin: float, ymin: float, xmax: float, ymax: float) -> Box:
    def clip(v: float) -> float:
        return round(min(1.0, max(0.0, float(v))), 4)

    return clip(xmin), clip(ymin), clip(xmax), clip(ymax)


def image_input(inputs: list[TensorInfo]) -> TensorInfo | None:
    """The single [1, H, W, 3] image input both families need, or None."""
    if len(inputs) != 1:
        return None
    shape = inputs[0].shape
    if len(shape) == 4 and shape[0] == 1 and shape[3] == 3 and shape[1] > 0 and shape[2] > 0:
        return inputs[0]
    return None


def to_input_tensor(rgb: npt.NDArray[np.uint8], tensor: TensorInfo) -> npt.NDArray[Any]:
    """An RGB image of the input's size as the input tensor: uint8 as is, float in [-1, 1]."""
    if tensor.dtype is np.uint8:
        return rgb[np.newaxis]
    if tensor.dtype is np.int8:
        return (rgb.astype(np.int16) - 128).astype(np.int8)[np.newaxis]
    # x/127.5 - 1: the MobileNet/DeepLab convention for float inputs.
    out = np.multiply(rgb, np.float32(1 / 127.5), dtype=np.float32)
    out -= np.float32(1.0)
    return out[np.newaxis]


class ModelFamily(ABC):
    """One kind of model. Subclasses register themselves with `@register`."""

    name: ClassVar[str]

    def __init__(self, inputs: list[TensorInfo], outputs: list[TensorInfo], options: ModelOptions) -> None:
        tensor = image_input(inputs)
        if tensor is None:  # matches() has checked; this keeps mypy and direct callers honest
            raise ModelError(f"a {self.name} model needs one [1, H, W, 3] image input")
        self.input = tensor
        self.outputs = outputs
        self.options = options

    @classmethod
    @abstractmethod
    def matches(cls, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> bool:
        """Whether a model with these tensors belongs to this family."""

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the frame is resized to."""
        return self.input.shape[2], self.input.shape[1]

    def preprocess(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        """The input tensor for an RGB image already resized to `input_size`."""
        return to_input_tensor(rgb, self.input)

    @abstractmethod
    def postprocess(
        self, outputs: list[npt.NDArray[Any]], objects: tuple[str, ...] = DEFAULT_OBJECTS
    ) -> list[Person]:
        """The objects of these labels found (labels the model lacks: none), best first,
        from the raw outputs in the model's output order."""

    def describe(self) -> str:
        return self.name


FAMILIES: dict[str, type[ModelFamily]] = {}

F = TypeVar("F", bound=type[ModelFamily])


def register(family: F) -> F:
    FAMILIES[family.name] = family
    return family


def _shapes(tensors: list[TensorInfo]) -> str:
    return ", ".join(f"{list(t.shape)} {t.dtype.__name__}" for t in tensors) or "none"


def recognise(inputs: list[TensorInfo], outputs: list[TensorInfo], options: ModelOptions) -> ModelFamily:
    """The family instance for a model with these tensors, or a ModelError that says why not."""
    for family in FAMILIES.values():
        if family.matches(inputs, outputs):
            return family(inputs, outputs, options)
    raise ModelError(
        f"the model is of no family bobby-edge knows (inputs: {_shapes(inputs)}; outputs: "
        f"{_shapes(outputs)}). Supported: 'ssd' (one [1,H,W,3] input; four outputs boxes [1,N,4], "
        "classes, scores, count — SSD MobileNet detect.tflite, EfficientDet-Lite) and "
        "'segmentation' (one [1,H,W,3] float input; one [1,H,W,C] output — DeepLab v3). "
        "Use such a model with --model, or the default from `bobby-edge model fetch`"
    )
