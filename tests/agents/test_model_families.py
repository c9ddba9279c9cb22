"""Model families: recognised from tensors, SSD decoding in both export orders, segmentation.

No registry package ships a four-output SSD .tflite, so the SSD family is tested on
real arrays of the documented shapes and orders through its `postprocess`, with
recognition from tensor descriptions — not through a real SSD model file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bobby_edge.detector.models import FAMILIES, ModelError, ModelOptions, recognise
from bobby_edge.detector.models.segmentation import SegmentationFamily
from bobby_edge.detector.models.ssd import SsdFamily, person_class_id
from bobby_edge.detector.pipeline import load_labels
from bobby_edge.detector.runtime import TensorInfo


def tensor(
    index: int, shape: tuple[int, ...], dtype: type[np.generic] = np.float32, name: str = ""
) -> TensorInfo:
    return TensorInfo(index=index, name=name, shape=shape, dtype=dtype)


UINT8_300 = [tensor(0, (1, 300, 300, 3), np.uint8)]
TF1_OUTPUTS = [tensor(1, (1, 10, 4)), tensor(2, (1, 10)), tensor(3, (1, 10)), tensor(4, (1,))]
TF2_OUTPUTS = [tensor(1, (1, 25)), tensor(2, (1, 25, 4)), tensor(3, (1,)), tensor(4, (1, 25))]


def test_registry_has_both_families() -> None:
    assert set(FAMILIES) >= {"ssd", "segmentation"}


@pytest.mark.parametrize("outputs", [TF1_OUTPUTS, TF2_OUTPUTS], ids=["tf1", "tf2"])
def test_ssd_recognised_in_either_order(outputs: list[TensorInfo]) -> None:
    family = recognise(UINT8_300, outputs, ModelOptions())
    assert isinstance(family, SsdFamily)
    assert family.input_size == (300, 300)


def test_deeplab_recognised_as_segmentation() -> None:
    family = recognise([tensor(0, (1, 257, 257, 3))], [tensor(1, (1, 257, 257, 21))], ModelOptions())
    assert isinstance(family, SegmentationFamily)
    assert family.person == 15


@pytest.mark.parametrize(
    ("inputs", "outputs"),
    [
        ([tensor(0, (1, 224, 224, 3), np.uint8)], [tensor(1, (1, 1000), np.uint8)]),  # classifier
        ([tensor(0, (1, 224, 224, 3))], [tensor(1, (1, 2254, 12)), tensor(2, (1, 2254, 1))]),  # BlazePose
        ([tensor(0, (1, 300, 300, 1), np.uint8)], TF1_OUTPUTS),  # grey input
        ([tensor(0, (1, 300, 300, 3)), tensor(1, (1,))], TF1_OUTPUTS),  # two inputs
    ],
    ids=["classifier", "anchors", "grey", "two-inputs"],
)
def test_unknown_model_gets_a_clear_error(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> None:
    with pytest.raises(ModelError, match=r"no family .* Supported: 'ssd' .* 'segmentation'"):
        recognise(inputs, outputs, ModelOptions())


def _tf1_arrays(boxes: list[list[float]], classes: list[float], scores: list[float]) -> list[np.ndarray]:
    n = 10
    b = np.zeros((1, n, 4), np.float32)
    c = np.zeros((1, n), np.float32)
    s = np.zeros((1, n), np.float32)
    if boxes:
        b[0, : len(boxes)] = boxes
    c[0, : len(classes)] = classes
    s[0, : len(scores)] = scores
    return [b, c, s, np.array([len(scores)], np.float32)]


def test_ssd_tf1_order_decodes_person_boxes() -> None:
    family = recognise(UINT8_300, TF1_OUTPUTS, ModelOptions())
    # [ymin, xmin, ymax, xmax]: a person, a dog (class 17), a weak person, a box spilling out.
    outputs = _tf1_arrays(
        [[0.1, 0.2, 0.9, 0.6], [0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 0.7, 0.6], [-0.1, 0.8, 0.4, 1.2]],
        [0, 17, 0, 0],
        [0.83, 0.99, 0.31, 0.6],
    )
    people = family.postprocess(outputs)
    assert [p.score for p in people] == pytest.approx([0.83, 0.6, 0.31])
    assert people[0].box == pytest.approx((0.2, 0.1, 0.6, 0.9))  # → [xmin, ymin, xmax, ymax]
    assert people[1].box == pytest.approx((0.8, 0.0, 1.0, 0.4))  # clipped to the frame
    assert people[0].area == pytest.approx(0.32)


def test_ssd_tf2_order_decodes_the_same() -> None:
    family = recognise(UINT8_300, TF2_OUTPUTS, ModelOptions())
    n = 25
    scores, boxes, count, classes = (
        np.zeros((1, n), np.float32),
        np.zeros((1, n, 4), np.float32),
        np.array([3], np.float32),
        np.zeros((1, n), np.float32),
    )
    scores[0, :3] = [0.9, 0.75, 0.4]
    classes[0, :3] = [2, 0, 0]  # a car (class 2) scores highest: must not be taken as a person
    boxes[0, :3] = [[0, 0, 1, 1], [0.2, 0.3, 0.6, 0.5], [0.1, 0.1, 0.2, 0.2]]
    people = family.postprocess([scores, boxes, count, classes])
    assert [p.score for p in people] == pytest.approx([0.75, 0.4])
    assert people[0].box == pytest.approx((0.3, 0.2, 0.5, 0.6))


def test_ssd_tells_classes_from_scores_by_values_not_position() -> None:
    # Two [1,N] outputs in an order no export uses: scores first, classes second.
    outputs_info = [tensor(1, (1, 10)), tensor(2, (1, 10)), tensor(3, (1, 10, 4)), tensor(4, (1,))]
    family = recognise(UINT8_300, outputs_info, ModelOptions())
    b, c, s, count = _tf1_arrays([[0, 0, 1, 1], [0, 0, 0.5, 0.5]], [3, 0], [0.7, 0.65])
    people = family.postprocess([s, c, b, count])
    assert [p.score for p in people] == pytest.approx([0.65])


def test_ssd_no_detections_and_ambiguous_values() -> None:
    family = recognise(UINT8_300, TF1_OUTPUTS, ModelOptions())
    assert family.postprocess(_tf1_arrays([], [], [])) == []
    # Count larger than the arrays, and garbage count values, are bounded.
    b, c, s, _ = _tf1_arrays([[0, 0, 1, 1]], [0], [0.9])
    assert len(family.postprocess([b, c, s, np.array([1e6], np.float32)])) == 1


def test_ssd_quantised_outputs_are_dequantised() -> None:
    outputs_info = [
        TensorInfo(1, "", (1, 10, 4), np.uint8, 1 / 255, 0),
        tensor(2, (1, 10)),
        TensorInfo(3, "", (1, 10), np.uint8, 1 / 255, 0),
        tensor(4, (1,)),
    ]
    family = recognise(UINT8_300, outputs_info, ModelOptions())
    b = np.zeros((1, 10, 4), np.uint8)
    b[0, 0] = [0, 0, 255, 255]
    s = np.zeros((1, 10), np.uint8)
    s[0, 0] = 204
    c = np.zeros((1, 10), np.float32)
    people = family.postprocess([b, c, s, np.array([1], np.float32)])
    assert people[0].score == pytest.approx(0.8, abs=0.01)
    assert people[0].box == pytest.approx((0, 0, 1, 1))


def test_person_class_from_labels_and_index(tmp_path: Path) -> None:
    coco = tmp_path / "labelmap.txt"
    coco.write_text("???\nperson\nbicycle\ncar\n")
    assert person_class_id(ModelOptions(load_labels(coco), "person")) == 0  # `???` shifts by one
    plain = tmp_path / "labels.txt"
    plain.write_text("background\nbicycle\nperson\n")
    assert person_class_id(ModelOptions(load_labels(plain), "Person")) == 2
    indexed = tmp_path / "indexed.txt"
    indexed.write_text("0 car\n1 human\n")
    assert person_class_id(ModelOptions(load_labels(indexed), "human")) == 1
    assert person_class_id(ModelOptions(None, "7")) == 7
    assert person_class_id(ModelOptions(None, 3)) == 3
    assert person_class_id(ModelOptions(None, "person")) == 0
    with pytest.raises(ModelError, match="not in the labels file"):
        person_class_id(ModelOptions(load_labels(plain), "pedestrian"))
    with pytest.raises(ModelError, match="no labels file"):
        person_class_id(ModelOptions(None, "pedestrian"))


def test_segmentation_postprocess_scores_and_boxes_person_pixels() -> None:
    family = recognise([tensor(0, (1, 257, 257, 3))], [tensor(1, (1, 257, 257, 21))], ModelOptions())
    logits = np.zeros((1, 257, 257, 21), np.float32)
    logits[..., 0] = 5.0  # background everywhere
    logits[0, 64:192, 32:96, 15] = 10.0  # a confident person, rows 64-191, columns 32-95
    people = family.postprocess([logits])
    assert len(people) == 1
    assert people[0].score == pytest.approx(1 / (1 + np.exp(-5)), abs=1e-3)
    assert people[0].box == pytest.approx((32 / 257, 64 / 257, 96 / 257, 192 / 257), abs=0.015)

    logits[0, 64:192, 32:96, 15] = 0.0
    logits[0, 0:2, 0:2, 15] = 10.0  # a few stray pixels are noise, not a person
    assert family.postprocess([logits]) == []


def test_segmentation_person_class_outside_model_is_refused() -> None:
    with pytest.raises(ModelError, match="outside the model's 21 classes"):
        recognise([tensor(0, (1, 257, 257, 3))], [tensor(1, (1, 257, 257, 21))], ModelOptions(None, 30))


def test_runtime_falls_back_to_tflite_runtime_then_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from bobby_edge.detector import runtime
    from bobby_edge.errors import StartupError

    fake = types.ModuleType("tflite_runtime.interpreter")
    fake.Interpreter = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake)
    assert runtime.interpreter_class() is object
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(StartupError, match=r"no LiteRT runtime is installed: run `pip install"):
        runtime.interpreter_class()


def test_ssd_reports_the_objects_a_camera_picks(tmp_path: Path) -> None:
    """COCO classes by id without labels; by name (motorbike = COCO's motorcycle) with them."""
    family = recognise(UINT8_300, TF1_OUTPUTS, ModelOptions())
    outputs = _tf1_arrays(
        [[0.1, 0.2, 0.9, 0.6], [0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 0.9, 0.9]], [0, 17, 2], [0.8, 0.9, 0.7]
    )
    assert [p.label for p in family.postprocess(outputs)] == ["person"]  # person only, by default
    found = family.postprocess(outputs, ("person", "car", "dog"))
    assert [p.label for p in found] == ["dog", "person", "car"]  # best first; 17 is COCO's dog
    assert [p.score for p in found] == pytest.approx([0.9, 0.8, 0.7])
    labels = tmp_path / "labelmap.txt"
    labels.write_text("???\nperson\nbicycle\ncar\nmotorcycle\n")
    named = recognise(UINT8_300, TF1_OUTPUTS, ModelOptions(load_labels(labels)))
    bike = _tf1_arrays([[0.1, 0.1, 0.5, 0.5]], [3], [0.6])
    assert [p.label for p in named.postprocess(bike, ("person", "motorbike"))] == ["motorbike"]
    assert named.postprocess(bike, ("person", "dog")) == []  # not in its labels: never reported


def test_segmentation_reports_each_class_picked_with_its_label() -> None:
    family = recognise([tensor(0, (1, 257, 257, 3))], [tensor(1, (1, 257, 257, 21))], ModelOptions())
    logits = np.zeros((1, 257, 257, 21), np.float32)
    logits[..., 0] = 5.0
    logits[0, 64:192, 32:96, 15] = 10.0  # a person
    logits[0, 150:250, 150:250, 12] = 10.0  # a dog (Pascal VOC class 12)
    assert [p.label for p in family.postprocess([logits])] == ["person"]
    found = family.postprocess([logits], ("person", "dog", "cat"))
    assert sorted(p.label for p in found) == ["dog", "person"]
    dog = next(p for p in found if p.label == "dog")
    assert dog.box == pytest.approx((150 / 257, 150 / 257, 250 / 257, 250 / 257), abs=0.015)
