"""LiteRT (TensorFlow Lite) interpreter loading and tensor descriptions.

`ai-edge-litert` is the supported runtime; `tflite-runtime` (what older Raspberry Pi OS
guides install) is tried when it is absent. Only this module imports either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import StartupError

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """What a model says about one of its input or output tensors."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type[np.generic]
    scale: float = 0.0  # quantisation: real = scale * (q - zero_point); 0 = not quantised
    zero_point: int = 0

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> TensorInfo:
        scale, zero_point = details.get("quantization", (0.0, 0))
        return cls(
            index=int(details["index"]),
            name=str(details.get("name", "")),
            shape=tuple(int(d) for d in details["shape"]),
            dtype=np.dtype(details["dtype"]).type,
            scale=float(scale),
            zero_point=int(zero_point),
        )

    def dequantize(self, values: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        if self.scale and np.issubdtype(values.dtype, np.integer):
            return ((values.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)
        return values.astype(np.float32, copy=False)


def interpreter_class() -> Any:
    """The Interpreter class of whichever LiteRT runtime is installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise StartupError(
                "no LiteRT runtime is installed: run `pip install 'bobby-edge[detector]'` "
                "(ai-edge-litert), or `pip install tflite-runtime` where ai-edge-litert has no wheel"
            ) from None
        _LOGGER.info("using tflite-runtime (ai-edge-litert is not installed)")
    return Interpreter


def load_interpreter(path: str | Path, threads: int) -> Any:
    """Load a .tflite file with `threads` CPU threads and allocate its tensors."""
    interpreter_cls = interpreter_class()
    model_path = Path(path)
    if not model_path.is_file():
        raise StartupError(
            f"model file {model_path} does not exist: run `bobby-edge model fetch` for the default "
            "model, or pass --model PATH to a .tflite file"
        )
    try:
        interpreter = interpreter_cls(model_path=str(model_path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise StartupError(
            f"model file {model_path} is not a usable .tflite model ({err}); "
            "check the file, or fetch the default with `bobby-edge model fetch`"
        ) from None
    return interpreter


def describe(interpreter: Any) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """The model's inputs and outputs, in the model's own order."""
    return (
        [TensorInfo.from_details(d) for d in interpreter.get_input_details()],
        [TensorInfo.from_details(d) for d in interpreter.get_output_details()],
    )
