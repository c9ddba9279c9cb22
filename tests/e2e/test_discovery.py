"""MQTT discovery in a real Home Assistant: a camera agent that announces itself on the
broker makes `hass` offer Bobby Camera under *Discovered* (the config-flow progress the
frontend lists), a hostile announcement offers nothing, confirming the offer sets the hub
up on the announced base topic, and after that new agents become devices, not offers.

Its own `hass` (MQTT set up, Bobby Camera not), broker and camera agent: the shared
system of conftest.py has the integration set up from the start.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bobby_demo.hass import HassApi
from bobby_demo.processes import wait_until
from bobby_demo.samples import make_samples
from bobby_demo.system import BobbySystem
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

from .conftest import LOG_DIR

CAMERA = "disc-cam"
HOSTILE_TOPIC = "bobby/camera/evil/info"
HOSTILE_MARK = "HOSTILE-PAYLOAD-MARK"


@dataclass
class Discovery:
    system: BobbySystem
    api: HassApi
    probe: Probe


@pytest.fixture(scope="module")
def discovery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Discovery]:
    run_dir = tmp_path_factory.mktemp("discovery")
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    broker = Mosquitto(run_dir / "broker").start()
    system = BobbySystem(run_dir, broker.host, broker.port, log_dir=LOG_DIR, frontend=False)
    probe: Probe | None = None
    try:
        api = system.start_hass()
        api.ensure_mqtt(broker.host, broker.port)
        probe = Probe(broker.port)
        yield Discovery(system, api, probe)
    finally:
        system.stop()
        if probe:
            probe.close()
        broker.stop()


def _offers(api: HassApi) -> list[dict[str, Any]]:
    """What Settings → Devices & services shows under Discovered (the frontend's own query)."""
    return [f for f in api.ws({"type": "config_entries/flow/progress"}) if f["handler"] == "bobby_camera"]


def test_an_announcing_agent_is_offered_and_sets_the_hub_up(discovery: Discovery, tmp_path: Path) -> None:
    api, system = discovery.api, discovery.system
    assert api.config_entries("bobby_camera") == []

    # Anyone on the broker can publish on an info topic: 60 KB of nesting offers nothing
    # and is not written to the log.
    hostile = '{"name": "' + HOSTILE_MARK + '", "x": ' + "[" * 30000 + "]" * 30000 + "}"
    discovery.probe.publish(HOSTILE_TOPIC, hostile, retain=True)

    samples = tmp_path / "samples"
    make_samples(samples, fps=1.0, person_seconds=1.0, empty_seconds=1.0)
    system.start_camera(CAMERA, f"images:{samples}", "--fps", "1", "--name", "Discovery camera")

    [offer] = wait_until(lambda: _offers(api), 60, "Home Assistant offers Bobby Camera")
    assert offer["context"]["source"] == "mqtt"
    assert offer["step_id"] == "discovery_confirm"
    assert offer["context"]["title_placeholders"] == {"name": "Discovery camera", "base_topic": "bobby"}
    log = (LOG_DIR / "home-assistant.log").read_text(errors="replace")
    assert f"Not offering Bobby Camera for {HOSTILE_TOPIC}" in log
    assert HOSTILE_MARK not in log

    # Confirming creates the hub on the base topic of the announcement; the hub finds the
    # agent by itself (its retained info).
    result = api.post(f"/api/config/config_entries/flow/{offer['flow_id']}", {})
    assert result["type"] == "create_entry", result
    api.wait_entry_loaded("bobby_camera")
    wait_until(
        lambda: any(d["name"] == "Discovery camera" for d in api.device_registry()),
        30,
        "the announcing camera becomes a device",
    )
    assert _offers(api) == []

    # Set up: another agent is a device, not a second offer.
    info = {
        "v": 1,
        "kind": "detector",
        "id": "disc-det",
        "name": "Discovery detector",
        "version": "0.1.0",
        "stats_interval": 10,
    }
    discovery.probe.publish("bobby/detector/disc-det/status", "online", retain=True)
    discovery.probe.publish("bobby/detector/disc-det/info", json.dumps(info), retain=True)
    wait_until(
        lambda: any(d["name"] == "Discovery detector" for d in api.device_registry()),
        30,
        "a later agent becomes a device",
    )
    assert _offers(api) == []
    [entry] = api.config_entries("bobby_camera")
    assert entry["source"] == "mqtt"
