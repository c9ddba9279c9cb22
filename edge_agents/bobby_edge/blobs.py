"""Connected components of a small boolean image, in numpy and a little Python.

Both agents need them: the camera splits its motion mask into regions, the detector
splits a segmentation model's person mask into people. SciPy's `ndimage.label` would do,
but it is a large install for a Pi Zero; masks here are at most a few hundred pixels a
side, so labelling row *runs* (not pixels) with a union-find costs well under a
millisecond: a blob is a handful of runs per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Blob:
    """One 8-connected component: its bounding box (end-exclusive) and pixel count."""

    label: int  # value of its pixels in the label image
    top: int
    left: int
    bottom: int
    right: int
    pixels: int


def label(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int32], list[Blob]]:
    """The label image (0 = background, 1.. = blob) and the blobs, largest first."""
    height, width = mask.shape
    # Every run of every row at once: its row, first column and end column (exclusive).
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]
    runs = list(zip(rows.tolist(), starts.tolist(), ends.tolist(), strict=True))
    parent = list(range(len(runs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    above = 0  # first run of the row above that may still touch the current run
    row_start = 0  # first run of the current row
    for run_id, (r, start, end) in enumerate(runs):
        if run_id and runs[run_id - 1][0] != r:
            above, row_start = (row_start if runs[row_start][0] == r - 1 else run_id), run_id
        # 8-connectivity: a run above touches this one if it reaches a column next to it.
        while above < row_start and (runs[above][0] != r - 1 or runs[above][2] < start):
            above += 1
        k = above
        while k < row_start and runs[k][1] <= end:
            a, b = find(k), find(run_id)
            if a != b:
                parent[max(a, b)] = min(a, b)
            k += 1

    labels = np.zeros((height, width), np.int32)
    boxes: dict[int, list[int]] = {}
    for run_id, (r, start, end) in enumerate(runs):
        root = find(run_id)
        labels[r, start:end] = root + 1
        box = boxes.get(root)
        if box is None:
            boxes[root] = [r, start, r + 1, end, end - start]
        else:
            box[0] = min(box[0], r)
            box[1] = min(box[1], start)
            box[2] = max(box[2], r + 1)
            box[3] = max(box[3], end)
            box[4] += end - start
    blobs = [Blob(root + 1, *box) for root, box in boxes.items()]
    blobs.sort(key=lambda b: b.pixels, reverse=True)
    return labels, blobs
