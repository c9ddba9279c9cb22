"""End to end: the core proves the home is watched (issue 22). Through a real `hass`, a real
Mosquitto and real agents: a camera whose picture goes black (covered) and a detector that
finds nobody any more (threshold 0.99: it fails the core's self-test) turn into problems with
repairs, and the alarm panel refuses to reach *armed* — it stays *arming* and names both.
Once they are gone, it is armed.

The test adds its own camera and detector beside the shared ones and removes them (devices
too) at the end; the panel is disarmed and every agent switched on again, as it found them.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bobby_demo.samples import EMPTY_SCENES, scene

from .conftest import E2E

COVERED = "e2e-cover"
BLIND = "e2e-blind"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _entity(e2e: E2E, unique_id: str) -> str:
    return e2e.wait_for(
        lambda: e2e.api.entity_by_unique_id("bobby_camera", unique_id), 60, f"the entity {unique_id}"
    )


def _issues(e2e: E2E) -> set[str]:
    return {
        i["issue_id"]
        for i in e2e.api.ws({"type": "repairs/list_issues"})["issues"]
        if i["domain"] == "bobby_camera"
    }


def _panel(e2e: E2E, panel: str) -> dict[str, Any]:
    return e2e.api.state(panel)


def test_a_covered_camera_and_a_blind_detector_keep_the_panel_from_arming(e2e: E2E, tmp_path: Path) -> None:
    # A camera looking at a still scene (the tamper check learns it), and a detector that sees nobody.
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / "scene.jpg").write_bytes(_jpeg(scene(EMPTY_SCENES[0])))
    e2e.system.start_camera(
        COVERED,
        f"images:{pictures}",
        "--fps",
        "2",
        "--stats-interval",
        "1",
        "--no-record",
        "--name",
        "E2E covered",
    )
    e2e.system.start_detector(
        BLIND, "--threshold", "0.99", "--stats-interval", "1", "--threads", "1", "--name", "E2E blind"
    )
    panel = _entity(e2e, "hub_alarm")
    try:
        blind_problem = _entity(e2e, f"detector_{BLIND}_problem")
        covered_problem = _entity(e2e, f"camera_{COVERED}_problem")
        # The self-test runs at once when the detector comes online: it finds nobody.
        e2e.wait_for(
            lambda: e2e.api.state(blind_problem)["state"] == "on", 60, "the blind detector's problem"
        )
        assert f"detector_{BLIND}_blind" in _issues(e2e)
        assert e2e.api.state(covered_problem)["state"] == "off"

        e2e.api.call_service("alarm_control_panel", "alarm_arm_away", {"entity_id": panel})
        seen = e2e.wait_for(
            lambda: (
                (s := _panel(e2e, panel))["state"] == "arming"
                and any("E2E blind" in line for line in s["attributes"]["culprits"])
                and s
            ),
            60,
            "the panel arming, naming the blind detector",
            lambda: _panel(e2e, panel),
        )
        print(f"arming, culprits: {seen['attributes']['culprits']}")

        # The lens covered: the picture goes black.
        covered_at = time.monotonic()
        (pictures / "black.jpg").write_bytes(_jpeg(Image.new("RGB", (640, 480))))
        (pictures / "scene.jpg").unlink()
        e2e.wait_for(
            lambda: e2e.api.state(covered_problem)["state"] == "on", 60, "the covered camera's problem"
        )
        print(f"picture black → camera problem in HA: {time.monotonic() - covered_at:.1f} s")
        assert f"camera_{COVERED}_covered" in _issues(e2e)
        culprits = e2e.wait_for(
            lambda: (
                (c := _panel(e2e, panel)["attributes"]["culprits"])
                and any("E2E covered" in line for line in c)
                and c
            ),
            60,
            "the panel naming the covered camera",
            lambda: _panel(e2e, panel),
        )
        assert _panel(e2e, panel)["state"] == "arming"
        assert any("E2E blind" in line for line in culprits), culprits
        print(f"arming, culprits: {culprits}")

        # Both gone: the panel is armed once the shared camera and detector prove it.
        _stop(e2e)
        for agent in (f"camera_{COVERED}", f"detector_{BLIND}"):
            _remove_device(e2e, agent)
        e2e.wait_for(
            lambda: _panel(e2e, panel)["state"] in ("armed_away", "triggered"),
            90,
            "the panel armed",
            lambda: _panel(e2e, panel),
        )
    finally:
        _stop(e2e)
        _restore(e2e, panel)


def _stop(e2e: E2E) -> None:
    """This test's agents stopped and forgotten by the harness (they are meant to be gone)."""
    for name in (f"camera-{COVERED}", f"detector-{BLIND}"):
        process = e2e.system.agents.pop(name, None)
        if process is not None:
            process.stop()


def _remove_device(e2e: E2E, key: str) -> None:
    entity = e2e.api.entity_by_unique_id("bobby_camera", f"{key}_problem")
    if entity is None:
        return
    device_id = next(e["device_id"] for e in e2e.api.entity_registry() if e["entity_id"] == entity)
    entry_id = e2e.api.config_entries("bobby_camera")[0]["entry_id"]
    e2e.api.ws(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry_id,
            "device_id": device_id,
        }
    )


def _restore(e2e: E2E, panel: str) -> None:
    """Disarmed (not in view of a person: refused then) and every agent switched on again."""
    if _panel(e2e, panel)["state"] != "disarmed":
        e2e.wait_state("person", "off", timeout=90)
        e2e.api.call_service("alarm_control_panel", "alarm_disarm", {"entity_id": panel})
        e2e.wait_for(lambda: _panel(e2e, panel)["state"] == "disarmed", 30, "the panel disarmed")
    e2e.api.call_service("switch", "turn_on", {"entity_id": _entity(e2e, "hub_all_enabled")})
    e2e.wait_state("camera_switch", "on", timeout=30)
    e2e.wait_state("detector_switch", "on", timeout=30)
