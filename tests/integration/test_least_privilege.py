"""The system under the SHIPPED Mosquitto ACL (docs/mosquitto/acl), one login per agent, with
Home Assistant's real MQTT client logged in as `homeassistant` (issue 11).

Real processes for the agents: a camera `cam1` streaming a picture with a person, the
detector `pi4-a` listed in the ACL, and a detector `det-half` someone listed with the
right to read frames but not to write detections. Frames, detections and commands flow;
the detector with too few rights is reported in Home Assistant, with a repair that names
what it may not do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry
from skimage import data

from custom_components.bobby_camera.const import DOMAIN
from tests.support.mosquitto import Mosquitto

from .common import setup_real_mqtt
from .test_real_broker import _state, _until
from .test_translations import _issue_title

REPO = Path(__file__).resolve().parents[2]
SHIPPED_ACL = REPO / "docs" / "mosquitto" / "acl"
LOGINS = {
    "homeassistant": "ha-secret",
    "cam1": "cam1-secret",
    "pi4-a": "pi4-a-secret",  # the detector block of the shipped file
    "det-half": "half-secret",  # may read frames, may not write detections
}


@pytest.fixture
def acl_broker(socket_enabled: None, tmp_path: Path) -> Generator[Mosquitto]:
    """Mosquitto with the shipped ACL as it is, plus the careless owner's block for det-half."""
    acl = tmp_path / "acl"
    # det-half: a block copied without the detection and snapshot lines (its own topics kept).
    own = "".join(
        f"topic {'read' if ch == 'set' else 'write'} bobby/detector/det-half/{ch}\n"
        for ch in ("status", "info", "state", "ack", "stats", "set")
    )
    acl.write_text(SHIPPED_ACL.read_text() + "\nuser det-half\ntopic read bobby/camera/+/frame\n" + own)
    server = Mosquitto(
        tmp_path / "broker", users=LOGINS, acl_file=acl, listener_options=["use_username_as_clientid true"]
    ).start()
    yield server
    server.stop()


@pytest.fixture
async def hub_entry(
    hass: HomeAssistant,
    mock_hass_config: None,
    media_dir: Path,
    acl_broker: Mosquitto,
    mock_config_entry: MockConfigEntry,
) -> AsyncGenerator[MockConfigEntry]:
    """HA's MQTT logged in as `homeassistant`, and the Bobby Camera hub on it."""
    mqtt_entry = await setup_real_mqtt(hass, acl_broker, ("homeassistant", LOGINS["homeassistant"]))
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    yield mock_config_entry
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def agents(acl_broker: Mosquitto, tmp_path: Path) -> Generator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `bobby-edge <kind> --id <id>` logged in as its id (its password in BOBBY_PASSWORD)."""
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(data.astronaut()).convert("RGB").resize((320, 320)).save(images / "person.jpg")
    processes: list[subprocess.Popen[bytes]] = []

    def start(kind: str, agent_id: str, *args: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{agent_id}.log").open("ab")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "edge_agents"), os.environ.get("PYTHONPATH", "")]),
            "BOBBY_PASSWORD": LOGINS[agent_id],
        }
        argv = [sys.executable, "-m", "bobby_edge", kind, "--broker", acl_broker.url, "--id", agent_id]
        argv += ["--username", agent_id, "--stats-interval", "1", "--state-dir", str(tmp_path / "state")]
        if kind == "camera":
            argv += ["--source", f"images:{images}", "--fps", "2", "--width", "320", "--height", "320"]
        else:
            argv += ["--threads", "1", "--snapshot-interval", "3600"]
        process = subprocess.Popen(
            [*argv, *args], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def test_the_system_under_the_shipped_acl_with_one_login_per_agent(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    agents: Callable[..., subprocess.Popen[bytes]],
    issue_registry: ir.IssueRegistry,
    tmp_path: Path,
) -> None:
    """Frames → detections → person on; commands → acks; det-half's refusals → a problem in HA."""
    agents("camera", "cam1", "--name", "Yard")
    agents("detector", "pi4-a", "--name", "Pi A")
    await _until(
        lambda: _state(hass, "switch.yard_enabled") == "on", "the camera appears", tmp_path / "cam1.log"
    )
    await _until(
        lambda: _state(hass, "switch.pi_a_enabled") == "on", "the detector appears", tmp_path / "pi4-a.log"
    )

    # Frames reach the detector, whose detections reach HA: the person sensor turns on.
    await _until(
        lambda: _state(hass, "binary_sensor.yard_person") == "on",
        "a person is detected",
        tmp_path / "pi4-a.log",
    )

    # Commands reach the camera (it may read its own `set`) and its ack reaches HA.
    await hass.services.async_call("switch", "turn_off", {"entity_id": "switch.yard_enabled"}, blocking=True)
    assert _state(hass, "switch.yard_enabled") == "off"
    await hass.services.async_call("switch", "turn_on", {"entity_id": "switch.yard_enabled"}, blocking=True)
    assert _state(hass, "switch.yard_enabled") == "on"
    assert _state(hass, "binary_sensor.yard_problem") == "off"
    assert _state(hass, "binary_sensor.pi_a_problem") == "off"

    # A detector that may not write detections: its refusals become a problem and a repair.
    agents("detector", "det-half", "--name", "Half")
    issue_id = "detector_det-half_not_authorised_publish_detection"
    await _until(
        lambda: issue_registry.async_get_issue(DOMAIN, issue_id) is not None,
        "det-half's refused detections are reported in HA",
        tmp_path / "det-half.log",
    )
    problem = hass.states.get("binary_sensor.half_problem")
    assert problem.state == "on"
    assert "not_authorised_publish_detection" in problem.attributes["problems"]
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert _issue_title(issue) == "Half: not authorised to publish detection messages"
    assert issue.translation_placeholders["agent_topic"] == "bobby/camera/cam1/detection"


async def test_a_camera_login_cannot_pose_as_a_detector(
    hass: HomeAssistant, hub_entry: MockConfigEntry, acl_broker: Mosquitto
) -> None:
    """Issue 21, 4: cam1 may announce itself as a camera, not as `bobby/detector/cam1`."""
    import json

    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="cam1")
    client.username_pw_set("cam1", LOGINS["cam1"])
    client.connect(acl_broker.host, acl_broker.port)
    client.loop_start()
    hub = hub_entry.runtime_data
    try:
        for kind in ("detector", "camera"):  # the camera's own announcement last: it shows both arrived
            info = {"v": 1, "kind": kind, "id": "cam1", "version": "0", "stats_interval": 10}
            client.publish(f"bobby/{kind}/cam1/status", "online", qos=1, retain=True).wait_for_publish(5)
            client.publish(f"bobby/{kind}/cam1/info", json.dumps(info), qos=1, retain=True).wait_for_publish(
                5
            )

        def heard() -> bool:  # stats are subscribed after status and info: their retained are in
            client.publish("bobby/camera/cam1/stats", json.dumps({"v": 1, "uptime": 1, "fps": 0}))
            agent = hub.agents.get("camera_cam1")
            return agent is not None and agent.stats is not None

        await _until(heard, "the camera's own announcement and stats arrive")
        assert "detector_cam1" not in hub.agents
    finally:
        client.loop_stop()
        client.disconnect()
