"""Region squares and tiles: geometry, merging, caps, hostile region lists; blob labelling."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import ndimage

from bobby_edge import protocol
from bobby_edge.blobs import label
from bobby_edge.detector import crops
from bobby_edge.detector.models import Person

W, H, MODEL = 1280, 720, 257


def inside(crop: crops.Crop, width: int = W, height: int = H) -> bool:
    return crop.x >= 0 and crop.y >= 0 and crop.x + crop.side <= width and crop.y + crop.side <= height


def small_side(longer: float) -> int:
    """A small region's square: twice its longer side, at least half the model input."""
    return round(min(MODEL, max(crops.MIN_SQUARE_OF_MODEL * MODEL, crops.SMALL_CONTEXT * longer)))


def test_a_small_region_becomes_a_square_of_at_least_half_the_model_input() -> None:
    [crop], capped = crops.region_crops([(0.5, 0.5, 0.51, 0.52)], W, H, MODEL)
    assert capped == 0
    assert crop.side == small_side(0.02 * H) == MODEL // 2
    # A far person (64 px tall): a square of twice that, which the model sees upscaled.
    [far], _ = crops.region_crops([(0.5, 0.5, 0.52, 0.5 + 64 / H)], W, H, MODEL)
    assert far.side == 128
    # From about 100 px on, the model input's own size, as before.
    [near], _ = crops.region_crops([(0.5, 0.5, 0.55, 0.5 + 130 / H)], W, H, MODEL)
    assert near.side == MODEL
    assert inside(crop)
    assert crop.x <= 0.5 * W
    assert crop.x + crop.side >= 0.51 * W


def test_a_large_region_gets_a_margin_and_never_outgrows_the_frame() -> None:
    [crop], _ = crops.region_crops([(0.4, 0.4, 0.6, 0.7)], W, H, MODEL)
    assert crop.side == round(crops.REGION_MARGIN * max(0.2 * W, 0.3 * H))
    [whole], _ = crops.region_crops([(0.0, 0.0, 1.0, 1.0)], W, H, MODEL)
    assert whole.side == H
    assert inside(whole)


@pytest.mark.parametrize("region", [(0.0, 0.0, 0.02, 0.02), (0.98, 0.97, 1.0, 1.0), (0.0, 0.9, 0.05, 1.0)])
def test_a_region_at_the_edge_gives_a_square_clamped_inside_the_frame(
    region: tuple[float, float, float, float],
) -> None:
    [crop], _ = crops.region_crops([region], W, H, MODEL)
    assert inside(crop)
    assert crop.side == small_side(max((region[2] - region[0]) * W, (region[3] - region[1]) * H))


def test_overlapping_regions_are_merged_into_one_square() -> None:
    regions = [(0.30, 0.30, 0.36, 0.40), (0.32, 0.32, 0.38, 0.42), (0.31, 0.35, 0.37, 0.45)]
    [crop], _ = crops.region_crops(regions, W, H, MODEL)
    for xmin, ymin, xmax, ymax in regions:
        assert crop.x <= xmin * W
        assert xmax * W <= crop.x + crop.side
        assert crop.y <= ymin * H
        assert ymax * H <= crop.y + crop.side


def test_regions_far_apart_stay_apart_and_merging_never_costs_more_pixels() -> None:
    squares, _ = crops.region_crops([(0.05, 0.1, 0.1, 0.2), (0.8, 0.7, 0.85, 0.8)], W, H, MODEL)
    assert len(squares) == 2
    # Touching squares: one square over both would be larger than the two together.
    squares, _ = crops.region_crops([(0.2, 0.4, 0.31, 0.41), (0.39, 0.4, 0.5, 0.41)], W, H, MODEL)
    assert len(squares) == 2
    assert sum(s.side**2 for s in squares) == 2 * MODEL**2


def test_many_regions_are_capped_largest_first() -> None:
    regions = [(x / 10, y / 10, x / 10 + 0.01 * (1 + x), y / 10 + 0.01) for x in range(10) for y in range(10)]
    squares, capped = crops.region_crops(regions, 4000, 3000, MODEL)
    assert len(squares) == crops.MAX_REGION_CROPS
    assert capped > 0
    assert all(inside(s, 4000, 3000) for s in squares)


def test_tiles_overlap_by_half_and_cover_the_frame() -> None:
    tiles = crops.tile_crops(640, 480, MODEL)
    coarse, fine = tiles[:6], tiles[6:]
    assert {t.side for t in coarse} == {320}
    assert {t.side for t in fine} == {193}  # 3/4 of the model input: a 64-px person is a third
    assert len(fine) == 6 * 4
    assert crops.tile_crops(640, 480, MODEL, fine=False) == coarse
    for level in (coarse, fine):
        covered = np.zeros((480, 640), bool)
        for t in level:
            assert inside(t, 640, 480)
            covered[t.y : t.y + t.side, t.x : t.x + t.side] = True
        assert covered.all()
        xs = sorted({t.x for t in level})
        assert max(b - a for a, b in itertools.pairwise(xs)) <= level[0].side / 2
    assert crops.tile_crops(320, 240, MODEL) == []  # hardly larger than the model: whole frame only


def test_boxes_cut_by_a_square_are_dropped_and_duplicates_merged() -> None:
    square = crops.Crop(320, 0, 320)
    whole = Person(0.9, (0.55, 0.1, 0.75, 0.5))
    same, cut = crops.to_frame(Person(0.8, (0.1, 0.15, 0.5, 0.75)), square, 640, 480)
    assert not cut
    fragment, cut_fragment = crops.to_frame(Person(0.95, (0.0, 0.3, 0.1, 0.9)), square, 640, 480)
    assert cut_fragment  # touches the square's left edge, which is inside the frame
    at_frame_edge, cut_edge = crops.to_frame(Person(0.7, (0.9, 0.0, 1.0, 0.2)), square, 640, 480)
    assert not cut_edge  # the square's right and top edges are the frame's
    merged = crops.merge([(whole, False), (same, False), (fragment, True), (at_frame_edge, False)])
    assert merged == [whole, at_frame_edge]


# --- the `regions` user property (protocol) -------------------------------------------


def test_regions_round_trip() -> None:
    boxes = [(0.1, 0.2, 0.3, 0.4), (0.5, 0.5, 1.0, 1.0)]
    parsed = protocol.parse_regions(protocol.format_regions(boxes))
    assert parsed.boxes == tuple(boxes)
    assert parsed.problem is None
    assert parsed.readable


def test_hostile_region_lists_are_defused() -> None:
    thousand = json.dumps([[i / 2000, 0.1, i / 2000 + 0.01 + i / 100000, 0.2] for i in range(1000)])
    parsed = protocol.parse_regions(thousand)
    assert len(parsed.boxes) == protocol.MAX_REGIONS
    assert "beyond" in (parsed.problem or "")
    negative = protocol.parse_regions("[[0.5, 0.5, 0.4, 0.6], [0.1, 0.1, 0.2, -0.3], [0.1, 0.1, 0.2, 0.2]]")
    assert negative.boxes == ((0.1, 0.1, 0.2, 0.2),)
    assert "2 not" in (negative.problem or "")
    clamped = protocol.parse_regions("[[-0.5, 0.9, 0.2, 1.5]]")
    assert clamped.boxes == ((0.0, 0.9, 0.2, 1.0),)
    assert "clamped" in (clamped.problem or "")
    for unreadable in ("{", '{"a": 1}', "x" * (protocol.MAX_REGIONS_BYTES + 1)):
        parsed = protocol.parse_regions(unreadable)
        assert not parsed.readable
        assert parsed.boxes == ()
        assert parsed.problem
        assert unreadable[:20] not in parsed.problem  # the value itself never reaches the log
    odd = protocol.parse_regions('[[0.1, 0.1, 0.2], [true, 0, 1, 1], ["0", 0, 1, 1], 7]')
    assert odd.boxes == ()
    assert odd.readable
    # JSON's hostile corners are refused as in every payload: the whole value is ignored.
    for hostile in ("[[NaN, 0, 1, 1]]", "[[1e999, 0, 1, 1]]", "[[" + "9" * 400 + ", 0, 1, 1]]", "[" * 5000):
        parsed = protocol.parse_regions(hostile)
        assert not parsed.readable
        assert parsed.boxes == ()


# --- blob labelling ---------------------------------------------------------------------


def test_blobs_match_scipy_8_connected_labelling() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        mask = rng.random((int(rng.integers(1, 30)), int(rng.integers(1, 30)))) > rng.random()
        labels, blobs = label(mask)
        reference, count = ndimage.label(mask, structure=np.ones((3, 3)))
        assert len(blobs) == count
        assert [b.pixels for b in blobs] == sorted((b.pixels for b in blobs), reverse=True)
        for blob in blobs:
            pixels = labels == blob.label
            assert len(np.unique(reference[pixels])) == 1
            assert pixels.sum() == blob.pixels
            rows, cols = np.nonzero(pixels)
            assert (blob.top, blob.left, blob.bottom, blob.right) == (
                rows.min(),
                cols.min(),
                rows.max() + 1,
                cols.max() + 1,
            )
