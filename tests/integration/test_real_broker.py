"""Home Assistant's real MQTT client, a real Mosquitto and a real camera agent process.

No mocks between the integration and the agent: the hub discovers the agent from its
retained topics, switches it off and on through set/ack, asks for a preview, sees a
detection published through the broker, and reports the agent offline after SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.bobby_camera.const import DOMAIN
from tests.support.mosquitto import Mosquitto
from tests.support.processes import start_agent, stop_all

from .common import detection

DEADLINE = 30.0


@pytest.fixture
def camera_agent(broker: Mosquitto, tmp_path: Path) -> Generator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `bobby-edge camera` (id cam1, on a folder of one JPEG) as a separate process."""
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(images / "frame.jpg")
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = start_agent(
            "camera",
            broker.url,
            tmp_path / "camera.log",
            *("--id", "cam1", "--name", "Yard", "--no-record", "--source", f"images:{images}"),
            *("--fps", "2", "--width", "64", "--height", "48", "--stats-interval", "1"),
            *("--preview-interval", "1", "--state-dir", str(tmp_path / "agent-state")),
        )
        processes.append(process)
        return process

    yield start
    stop_all(processes)


def _read(path: Path | None) -> str:
    return path.read_text() if path and path.exists() else ""


async def _until(check: Callable[[], Any], what: str, agent_log: Path | None = None) -> None:
    """Poll until `check()` is true; fail with `what` (and the agent's log) at the deadline."""
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}\n{_read(agent_log)}")
        await asyncio.sleep(0.05)


def _state(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return None if state is None else state.state


async def test_real_camera_agent_through_mosquitto(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    camera_agent: Callable[[], subprocess.Popen[bytes]],
    issue_registry: ir.IssueRegistry,
    tmp_path: Path,
) -> None:
    """Discover, switch off and on with acks, preview, detection; kill -9 → problem; restart → clear."""
    log = tmp_path / "camera.log"
    switch, connectivity, problem = (
        "switch.yard_enabled",
        "binary_sensor.yard_connectivity",
        "binary_sensor.yard_problem",
    )
    agent = camera_agent()
    await _until(lambda: _state(hass, switch) == "on", "the agent's switch shows on", log)
    await _until(lambda: _state(hass, connectivity) == "on", "the agent is connected", log)
    await _until(
        lambda: _state(hass, "sensor.yard_frame_rate") not in (None, "unknown", "unavailable"),
        "stats arrive",
        log,
    )
    await _until(lambda: _state(hass, "camera.yard_preview") == "idle", "a preview arrives", log)

    # Off: the agent applies it, acks it, and the switch shows the acknowledged state.
    await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
    assert _state(hass, switch) == "off"
    hub = hub_entry.runtime_data
    assert hub.agents["camera_cam1"].state["enabled"] is False
    await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
    assert _state(hass, switch) == "on"
    device_id = er.async_get(hass).async_get(switch).device_id
    await hass.services.async_call(DOMAIN, "request_preview", {"device_id": device_id}, blocking=True)
    assert _state(hass, problem) == "off"

    # A detector's message through the broker turns the person sensor on.
    await mqtt.async_publish(
        hass, "bobby/camera/cam1/detection", json.dumps(detection(camera="cam1")), qos=1, retain=False
    )
    await _until(lambda: _state(hass, "binary_sensor.yard_person") == "on", "the person sensor turns on")

    # A crash (SIGKILL): the broker publishes the last will; connectivity off, problem on, a repair.
    agent.send_signal(signal.SIGKILL)
    await hass.async_add_executor_job(agent.wait, 15)
    await _until(lambda: _state(hass, connectivity) == "off", "the agent is reported offline", log)
    assert _state(hass, problem) == "on"
    assert issue_registry.async_get_issue(DOMAIN, "camera_cam1_offline") is not None
    assert _state(hass, switch) == "unavailable"

    # Restarted, it announces itself again: everything clears by itself.
    agent = camera_agent()
    await _until(lambda: _state(hass, problem) == "off", "the problem clears", log)
    assert _state(hass, connectivity) == "on"
    assert _state(hass, switch) == "on"
    assert issue_registry.async_get_issue(DOMAIN, "camera_cam1_offline") is None

    # A clean shutdown publishes offline itself.
    agent.send_signal(signal.SIGTERM)
    await hass.async_add_executor_job(agent.wait, 15)
    await _until(
        lambda: _state(hass, connectivity) == "off", "the agent is reported offline after SIGTERM", log
    )


@pytest.fixture
def fake_agent(broker: Mosquitto) -> Generator[tuple[Any, list[Any]]]:
    """A plain paho client playing a detector agent that never answers and goes silent."""
    import paho.mqtt.client as paho

    received: list[Any] = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="fake-detector")
    client.will_set("bobby/detector/mute/status", "offline", qos=1, retain=True)
    client.on_message = lambda _c, _u, message: received.append(message)
    client.connect(broker.host, broker.port)
    client.subscribe("bobby/detector/mute/set", qos=1)
    client.loop_start()
    yield client, received
    client.loop_stop()
    client.disconnect()


@pytest.mark.parametrize("options", [{"command_timeout": 1.0}])
async def test_silent_agent_and_unanswered_command_through_mosquitto(
    hass: HomeAssistant, hub_entry: MockConfigEntry, fake_agent: tuple[Any, list[Any]]
) -> None:
    """Heartbeat and ack monitoring with the real client: silence and no ack become problems."""
    client, received = fake_agent
    info = {"v": 1, "kind": "detector", "id": "mute", "version": "0.0.1", "stats_interval": 0.2}
    for channel, payload in (
        ("status", "online"),
        ("info", json.dumps(info)),
        ("state", '{"v":1,"enabled":true}'),
    ):
        client.publish(f"bobby/detector/mute/{channel}", payload, qos=1, retain=True).wait_for_publish(5)
    problem = "binary_sensor.mute_problem"
    await _until(lambda: _state(hass, problem) == "on", "the silent agent is reported")
    assert hass.states.get(problem).attributes["problems"] == ["silent"]
    stats = json.dumps({"v": 1, "uptime": 1, "fps": 0})

    def heartbeat() -> bool:
        client.publish("bobby/detector/mute/stats", stats)
        return _state(hass, problem) == "off"

    await _until(heartbeat, "a heartbeat clears the problem")

    # A command nobody acknowledges: sent once, QoS 1, not retained; then reported.
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": "switch.mute_enabled"}, blocking=True
        )
    assert len(received) == 1
    assert (received[0].qos, received[0].retain) == (1, False)
    assert json.loads(received[0].payload)["enabled"] is False
    assert _state(hass, "switch.mute_enabled") == "on"
    problems = hass.states.get(problem).attributes["problems"]
    assert "command_timeout" in problems
