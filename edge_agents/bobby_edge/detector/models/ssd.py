"""SSD-style detection models: four outputs (boxes, classes, scores, count), NMS inside.

SSD MobileNet `detect.tflite` (TF1 export: boxes, classes, scores, count) and
EfficientDet-Lite / Model Maker (TF2 export: scores, boxes, count, classes) differ in
output order, so outputs are matched by shape ([1,N,4] boxes, [1] count) and the two
[1,N] outputs are told apart by their values: class ids are whole numbers, scores are
fractions in 0..1. Boxes are [ymin, xmin, ymax, xmax], normalised.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ...protocol import DEFAULT_OBJECTS, PERSON
from ..runtime import TensorInfo
from .base import ModelError, ModelFamily, ModelOptions, Person, clip_box, image_input, register

_LOGGER = logging.getLogger(__name__)

# COCO's TF1 labelmap starts with a `???` placeholder line: output class k is line k + 1.
PLACEHOLDER_LABEL = "???"
COCO_PERSON = 0
# COCO ids of the labels a camera may pick besides person, as SSD MobileNet's detect.tflite
# and EfficientDet-Lite output them: the 90-id numbering with gaps (its labelmap has `???`
# lines for the missing ids, e.g. between fire hydrant and stop sign), less the first.
COCO_CLASSES = {"bicycle": 1, "car": 2, "motorbike": 3, "bus": 5, "bird": 15, "cat": 16, "dog": 17}
COCO_CLASSES |= {"horse": 18, "sheep": 19, "cow": 20}
ALIASES = {"motorbike": "motorcycle"}  # protocol label → COCO's word in a labels file


def _is_boxes(t: TensorInfo) -> bool:
    return len(t.shape) == 3 and t.shape[0] == 1 and t.shape[2] == 4


def _is_count(t: TensorInfo) -> bool:
    return len(t.shape) <= 1 and (not t.shape or t.shape[0] == 1)


def _is_per_box(t: TensorInfo) -> bool:
    return len(t.shape) == 2 and t.shape[0] == 1


def person_class_id(options: ModelOptions) -> int:
    """The output class id meaning "person", from --person-class and the labels file."""
    wanted = options.person_class
    if isinstance(wanted, str) and wanted.strip().lstrip("-").isdigit():
        wanted = int(wanted)
    if isinstance(wanted, int):
        if wanted < 0:
            raise ModelError(f"person class {wanted} is negative: give a class index ≥ 0 or a label")
        return wanted
    labels = options.labels
    if not labels:
        if wanted.lower() == "person":
            return COCO_PERSON  # detect.tflite and EfficientDet-Lite are COCO models
        raise ModelError(
            f"person class {wanted!r} is a label but no labels file was given: "
            "pass --labels FILE or give the class index with --person-class N"
        )
    names = [label.strip().lower() for label in labels]
    if wanted.lower() not in names:
        raise ModelError(
            f"label {wanted!r} is not in the labels file ({len(labels)} labels, first: "
            f"{', '.join(labels[:5])}): check --person-class or --labels"
        )
    offset = 1 if names[0] == PLACEHOLDER_LABEL else 0
    return names.index(wanted.lower()) - offset


def _whole_numbers(values: npt.NDArray[np.float32]) -> bool:
    return bool(np.all(values == np.round(values)))


def _fractions(values: npt.NDArray[np.float32]) -> bool:
    return bool(np.all((values >= 0.0) & (values <= 1.0)))


@register
class SsdFamily(ModelFamily):
    name: ClassVar[str] = "ssd"

    def __init__(self, inputs: list[TensorInfo], outputs: list[TensorInfo], options: ModelOptions) -> None:
        super().__init__(inputs, outputs, options)
        self.boxes_index = next(i for i, t in enumerate(outputs) if _is_boxes(t))
        self.count_index = next(i for i, t in enumerate(outputs) if _is_count(t))
        self.pair = [i for i, t in enumerate(outputs) if _is_per_box(t)]
        # Which of the pair is classes: None until values tell (settled once, then kept).
        self.classes_index: int | None = None
        self.person = person_class_id(options)
        self.class_ids = {PERSON: self.person, **self._other_classes(options)}

    @staticmethod
    def _other_classes(options: ModelOptions) -> dict[str, int]:
        if not options.labels:
            return dict(COCO_CLASSES)
        names = [name.strip().lower() for name in options.labels]
        offset = 1 if names and names[0] == PLACEHOLDER_LABEL else 0
        found = {}
        for label in COCO_CLASSES:
            for name in (label, ALIASES.get(label)):
                if name in names:
                    found[label] = names.index(name) - offset
                    break
        return found

    @classmethod
    def matches(cls, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> bool:
        if image_input(inputs) is None or len(outputs) != 4:
            return False
        return (
            sum(map(_is_boxes, outputs)) == 1
            and sum(map(_is_count, outputs)) == 1
            and sum(map(_is_per_box, outputs)) == 2
        )

    def describe(self) -> str:
        return f"ssd, person class {self.person}"

    def _split(
        self,
        a: npt.NDArray[np.float32],
        b: npt.NDArray[np.float32],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
        """(classes, scores) of the pair's valid entries, or None when they cannot be told apart."""
        first, second = self.pair
        if self.classes_index is None:
            a_classes = _whole_numbers(a) and (not _whole_numbers(b) or not _fractions(a))
            b_classes = _whole_numbers(b) and (not _whole_numbers(a) or not _fractions(b))
            if a_classes == b_classes:
                return None  # e.g. all zeros: nothing to report either way
            self.classes_index = first if a_classes else second
            _LOGGER.debug("ssd outputs: classes are output %d", self.classes_index)
        return (a, b) if self.classes_index == first else (b, a)

    def postprocess(
        self, outputs: list[npt.NDArray[Any]], objects: tuple[str, ...] = DEFAULT_OBJECTS
    ) -> list[Person]:
        info = self.outputs
        count_out = info[self.count_index].dequantize(outputs[self.count_index]).reshape(-1)
        boxes = info[self.boxes_index].dequantize(outputs[self.boxes_index])[0]
        count = max(0, min(int(count_out[0]) if count_out.size else 0, boxes.shape[0]))
        first, second = self.pair
        split = self._split(
            info[first].dequantize(outputs[first])[0][:count],
            info[second].dequantize(outputs[second])[0][:count],
        )
        if count == 0 or split is None:
            return []
        classes, scores = split
        wanted = {self.class_ids[name]: name for name in objects if name in self.class_ids}
        people = [
            Person(
                round(float(scores[i]), 4),
                clip_box(boxes[i][1], boxes[i][0], boxes[i][3], boxes[i][2]),
                wanted[round(float(classes[i]))],
            )
            for i in range(count)
            if round(float(classes[i])) in wanted and scores[i] > 0
        ]
        return sorted(people, key=lambda p: p.score, reverse=True)
