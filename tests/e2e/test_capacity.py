"""Load and headroom end to end: the real detector's Load and Capacity reach Home Assistant,
and the hub adds up demand (the real camera's rate) against capacity (docs/performance.md)."""

from __future__ import annotations

from .conftest import CAMERA, DETECTOR, E2E, FPS


def _number(state: dict[str, object]) -> float | None:
    try:
        return float(str(state["state"]))
    except ValueError:
        return None  # unknown, unavailable


def test_load_capacity_demand_and_headroom(e2e: E2E) -> None:
    ids = {
        role: e2e.api.entity_by_unique_id("bobby_camera", unique_id)
        for role, unique_id in (
            ("load", f"detector_{DETECTOR}_load"),
            ("capacity", f"detector_{DETECTOR}_capacity"),
            ("analysed", f"detector_{DETECTOR}_analysed_fps"),
            ("demand", "hub_detection_demand"),
            ("fleet", "hub_detection_capacity"),
        )
    }
    assert all(ids.values()), ids
    e2e.entities.update({role: str(entity_id) for role, entity_id in ids.items()})
    # The camera sends FPS frames a second and the detector analyses them: its cost is known.
    capacity = e2e.wait_for(
        lambda: _number(e2e.state("capacity")), 60, "a detector capacity", lambda: e2e.state("capacity")
    )
    demand = e2e.wait_for(
        lambda: _number(e2e.state("demand")) == FPS and e2e.state("demand"),
        60,
        f"demand {FPS} fps",
        lambda: e2e.state("demand"),
    )
    assert demand["attributes"]["cameras"] == {"E2E camera": FPS}
    assert demand["attributes"]["unit_of_measurement"] == "fps"
    fleet = e2e.wait_for(
        lambda: (s := e2e.state("fleet")) and _number(s) is not None and s, 30, "a fleet capacity"
    )
    assert fleet["attributes"]["detectors"] == 1
    load = _number(e2e.state("load"))
    print(
        f"\ne2e: detector capacity {capacity} fps, load {load} %, fleet {fleet['state']} fps, "
        f"demand {demand['state']} fps (camera {CAMERA})"
    )
    assert load is not None
    assert 0 <= load <= 100
    # 2 fps on a detector that manages tens: plenty of headroom, no repair.
    assert capacity > FPS
    repairs = e2e.api.ws({"type": "repairs/list_issues"})
    assert not [i for i in repairs["issues"] if i["issue_id"] == "detection_capacity"]
