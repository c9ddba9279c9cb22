"""Semantic segmentation models (DeepLab v3): person pixels give a score and a box.

One [1,H,W,3] float input, one [1,H,W,C] output of per-class logits at the input's
resolution. A pixel is a person pixel where the person class has the largest logit.

The score is the model's mean person probability over the person pixels, not the
person-pixel fraction: the fraction measures how much of the frame a person fills
(scikit-image's astronaut 0.47, camera 0.31), so a 0.5 threshold would miss both, while
the mean probability is 0.94 / 0.95 for them and 0 for chelsea, coffee and rocket — a
confidence on the same 0..1 scale as an SSD score. The model does not separate people,
so the person pixels are split into connected components (`bobby_edge.blobs`): each
component of at least MIN_PERSON_FRACTION of the image is one person, with its own box
and score (a crowd gives several boxes; people who touch in the image stay one). A
component under MIN_SHARE_OF_LARGEST of the largest one is a fragment, not a person: on
the test scenes such specks (70-100 samples beside 1,500) were the only false boxes, and a
person that small beside a near one is the job of the squares the detector cuts (crops.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ...blobs import label
from ...protocol import DEFAULT_OBJECTS, PERSON
from ..runtime import TensorInfo
from .base import ModelError, ModelFamily, ModelOptions, Person, clip_box, image_input, register

VOC_PERSON = 15  # Pascal VOC: 0 background, ..., 15 person
# The Pascal VOC classes of the default model that a camera may pick besides person
# (protocol.OBJECT_LABELS). With a labels file, labels are looked up by name instead.
VOC_CLASSES = {"bicycle": 2, "bird": 3, "bus": 6, "car": 7, "cat": 8, "cow": 10, "dog": 12, "horse": 13}
VOC_CLASSES |= {"motorbike": 14, "sheep": 17}
MIN_PERSON_FRACTION = 0.002
MIN_SHARE_OF_LARGEST = 0.1
# Post-processing reads every STRIDE-th pixel in each direction: the box moves by about
# 1 % of the frame for a ninth of the work. The score, a mean, is taken over at most
# SCORE_SAMPLES person pixels. Measured on 257×257×21 logits: 0.3 ms per frame at stride 3,
# 0.6 ms at stride 2, 5 ms at full size — against ~9 ms of inference. Splitting the people
# (blob labelling) adds ~0.3 ms.
STRIDE = 3
SCORE_SAMPLES = 1024


def person_class_id(options: ModelOptions, classes: int) -> int:
    wanted = options.person_class
    if isinstance(wanted, str) and wanted.strip().isdigit():
        wanted = int(wanted)
    if isinstance(wanted, str):
        if options.labels:
            names = [label.strip().lower() for label in options.labels]
            if wanted.lower() not in names:
                raise ModelError(
                    f"label {wanted!r} is not in the labels file: check --person-class or --labels"
                )
            wanted = names.index(wanted.lower())
        elif wanted.lower() == "person":
            wanted = VOC_PERSON
        else:
            raise ModelError(
                f"person class {wanted!r} is a label but no labels file was given: "
                "pass --labels FILE or give the class index with --person-class N"
            )
    if not 0 <= wanted < classes:
        raise ModelError(
            f"person class {wanted} is outside the model's {classes} classes: check --person-class"
        )
    return wanted


@register
class SegmentationFamily(ModelFamily):
    name: ClassVar[str] = "segmentation"

    def __init__(self, inputs: list[TensorInfo], outputs: list[TensorInfo], options: ModelOptions) -> None:
        super().__init__(inputs, outputs, options)
        self.classes = outputs[0].shape[3]
        self.person = person_class_id(options, self.classes)
        self.class_ids = {PERSON: self.person, **self._other_classes(options)}

    def _other_classes(self, options: ModelOptions) -> dict[str, int]:
        """Label → class id of the labels besides person this model has."""
        if options.labels:
            names = [name.strip().lower() for name in options.labels]
            return {name: i for i, name in enumerate(names) if name and name != PERSON and i < self.classes}
        return {name: i for name, i in VOC_CLASSES.items() if i < self.classes}

    @classmethod
    def matches(cls, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> bool:
        tensor = image_input(inputs)
        if tensor is None or tensor.dtype is not np.float32 or len(outputs) != 1:
            return False
        shape = outputs[0].shape
        return len(shape) == 4 and shape[:3] == tensor.shape[:3] and shape[3] >= 2

    def describe(self) -> str:
        return f"segmentation, person class {self.person}"

    def postprocess(
        self, outputs: list[npt.NDArray[Any]], objects: tuple[str, ...] = DEFAULT_OBJECTS
    ) -> list[Person]:
        sampled = self.outputs[0].dequantize(outputs[0])[0, ::STRIDE, ::STRIDE, :]
        # One plane per class: a max across planes is 10x faster than across a 21-long last axis.
        planes = np.ascontiguousarray(np.moveaxis(sampled, -1, 0))
        top = planes.max(axis=0)
        found: list[Person] = []
        for name in objects:
            if (class_id := self.class_ids.get(name)) is not None:
                found.extend(self._objects(planes, top, class_id, name))
        found.sort(key=lambda p: p.score, reverse=True)
        return found

    def _objects(
        self, planes: npt.NDArray[Any], top: npt.NDArray[Any], class_id: int, name: str
    ) -> list[Person]:
        """The objects of one class: its pixels split into connected components."""
        mask = planes[class_id] >= top
        if mask.mean() < MIN_PERSON_FRACTION:
            return []
        labels, blobs = label(mask)
        height, width = self.outputs[0].shape[1:3]
        min_pixels = max(MIN_PERSON_FRACTION * mask.size, MIN_SHARE_OF_LARGEST * blobs[0].pixels)
        flat = planes.reshape(self.classes, -1)
        found = []
        for blob in blobs:  # largest first
            if blob.pixels < min_pixels:
                break
            # Softmax only where it is needed: (a sample of) the class's pixels, whose largest
            # logit is the class's, so p(class) = 1 / sum(exp(logit - class logit)).
            pixels = np.flatnonzero(mask if len(blobs) == 1 else labels == blob.label)
            selected = flat[:, pixels[:: max(1, len(pixels) // SCORE_SAMPLES)]]
            exp = np.exp(selected - selected[class_id])
            score = float((1.0 / exp.sum(axis=0)).mean())
            # Sample i covers pixels i*STRIDE .. i*STRIDE+STRIDE-1 of the full-size output.
            box = clip_box(
                blob.left * STRIDE / width,
                blob.top * STRIDE / height,
                blob.right * STRIDE / width,
                blob.bottom * STRIDE / height,
            )
            found.append(Person(round(score, 4), box, name))
        return found
