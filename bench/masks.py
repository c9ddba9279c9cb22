"""What the owner's masks and objects cost a detector per frame (issue 24, parts 4 and 5).

    PYTHONPATH=edge_agents:. python -m bench.masks

In-process, one 1-thread `Pipeline`, the astronaut scene at 640×480 (one person box).
Per frame, medians over alternating rounds (load from other processes hits every mode
alike):

- the whole frame analysed, person only (today's work, the reference);
- the same with all 11 objects looked for (post-processing per label);
- the mask step alone, as the detector runs it on every frame: the properties looked up
  (parsed and drawn once per different value, then cached) and the box tested, for one
  4-corner mask and for the most a camera may have (16 masks of 32 corners);
- the first frame of a new mask set: parsing the property and drawing the masks.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

ROUNDS = 15
REPEAT = 200  # the mask step is µs: timed in batches


def _ms(work: Callable[[], object], repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - started) * 1000 / repeat


def main() -> None:
    from bobby_edge import protocol
    from bobby_edge.detector import masks
    from bobby_edge.detector.pipeline import Pipeline
    from tests.agents.test_detector_fixtures import scene

    pipeline = Pipeline.open(threads=1)
    frame = scene("astronaut")
    people = pipeline.analyse(frame).select(0.5)
    one = protocol.format_masks([[[0.0, 0.0], [0.3, 0.0], [0.3, 0.4], [0.0, 0.4]]])
    most = protocol.format_masks(
        [
            [
                [
                    0.05 * i + 0.03 + 0.025 * math.cos(k * math.tau / 32),
                    0.5 + 0.3 * math.sin(k * math.tau / 32),
                ]
                for k in range(32)
            ]
            for i in range(16)
        ]
    )

    def step(value: str) -> Callable[[], object]:
        return lambda: masks.unmasked(people, masks.frame_masking(value, None).table)

    def fresh(value: str) -> Callable[[], object]:
        def run() -> object:
            masks.frame_masking.cache_clear()
            return masks.frame_masking(value, None)

        return run

    modes: dict[str, Callable[[], float]] = {
        "frame, person only": lambda: _ms(lambda: pipeline.analyse(frame)),
        "frame, all 11 objects": lambda: _ms(lambda: pipeline.analyse(frame, objects=protocol.OBJECT_LABELS)),
        "mask step, 1 mask of 4 corners": lambda: _ms(step(one), REPEAT),
        "mask step, 16 masks of 32 corners": lambda: _ms(step(most), REPEAT),
        "new mask set, 1 of 4 corners": lambda: _ms(fresh(one), 20),
        "new mask set, 16 of 32 corners": lambda: _ms(fresh(most), 20),
    }
    samples: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(ROUNDS):
        for name, measure in modes.items():
            samples[name].append(measure())
    for name, values in samples.items():
        print(f"{name:36} {statistics.median(values):9.3f} ms")


if __name__ == "__main__":
    main()
