"""Issue 21, 1: Home Assistant's own broker connection goes down — no agent is blamed.

A real Mosquitto killed (or stopped), HA's real MQTT client, a real camera agent process
(stats every second: silent after 3 s when someone is watching its heartbeat):
- while HA is cut off, the agent's connectivity is unknown (not "on"), no agent repair
  issue and no problem event appears, and ONE hub issue does after the grace;
- when the broker is back, the entities are right within 5 s of HA's reconnect, the hub
  issue is gone, and no timer armed before the outage fires against the agent;
- the hub (re)starting during the outage starts cut off: no agent is blamed either.

`BOBBY_OUTAGE_SECONDS=40` runs the outage of the issue (the lane uses 6 s) and prints
the measurements.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable, Generator
from pathlib import Path

import pytest
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.bobby_camera import connection as connection_module
from custom_components.bobby_camera.const import DOMAIN, EVENT_AGENT_PROBLEM, ISSUE_BROKER
from tests.support.mosquitto import Mosquitto

from .test_real_broker import _state, _until, camera_agent

__all__ = ["camera_agent"]  # a fixture of test_real_broker used here

OUTAGE = float(os.environ.get("BOBBY_OUTAGE_SECONDS", "6"))
GRACE = 2.0  # the hub issue's grace, shortened for the test (30 s by default)
SWITCH, CONNECTIVITY, PROBLEM = (
    "switch.yard_enabled",
    "binary_sensor.yard_connectivity",
    "binary_sensor.yard_problem",
)


async def _births(hass: HomeAssistant) -> list[str]:
    """HA's own birth messages from now on (it publishes one after each reconnect).

    A test waits for it before it ends: a birth still pending when the MQTT entry
    unloads fails the teardown.
    """
    seen: list[str] = []

    @callback
    def received(msg: mqtt.ReceiveMessage) -> None:
        seen.append(str(msg.payload))

    await mqtt.async_subscribe(hass, "homeassistant/status", received)
    return seen


@pytest.fixture
def first_birth(broker: Mosquitto) -> Generator[Callable[[], bool]]:
    """Whether HA published its first birth message (a listener there before HA connects).

    An outage must start after it: a birth still pending fails when it finds no broker.
    """
    import paho.mqtt.client as paho

    seen: list[bytes] = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="birth-watch")
    client.on_message = lambda _c, _u, message: seen.append(message.payload)
    client.connect(broker.host, broker.port)
    client.subscribe("homeassistant/status")
    client.loop_start()
    yield lambda: b"online" in seen
    client.loop_stop()
    client.disconnect()


def _agent_issues(registry: ir.IssueRegistry) -> list[str]:
    return [
        issue_id for (domain, issue_id) in registry.issues if domain == DOMAIN and issue_id != ISSUE_BROKER
    ]


async def _outage(
    hass: HomeAssistant, broker: Mosquitto, issue_registry: ir.IssueRegistry, *, kill: bool, log: Path
) -> tuple[float, float]:
    """Take the broker away for OUTAGE s; assert the outage blames nobody; (reconnect, right) times."""
    events = async_capture_events(hass, EVENT_AGENT_PROBLEM)
    births = await _births(hass)
    assert broker.process is not None
    if kill:
        broker.process.kill()
        broker.process.wait(5)
        broker.process = None
    else:
        broker.stop()
    await _until(lambda: _state(hass, CONNECTIVITY) != "on", "connectivity is no longer claimed", log)
    assert _state(hass, CONNECTIVITY) == "unknown"
    assert _state(hass, SWITCH) == "unavailable"
    deadline = time.monotonic() + OUTAGE
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        assert _agent_issues(issue_registry) == [], "an agent is blamed for HA's outage"
        assert [e.data for e in events] == []
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_BROKER) is not None
    assert _state(hass, PROBLEM) == "off"

    back = time.monotonic()
    await hass.async_add_executor_job(broker.start)
    hub = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    await _until(lambda: not hub.cut_off, "HA reconnects (its reconnect loop tries every 10 s)", log)
    reconnected = time.monotonic()
    await _until(
        lambda: (
            _state(hass, CONNECTIVITY) == "on"
            and _state(hass, SWITCH) == "on"
            and _state(hass, "sensor.yard_frame_rate") not in (None, "unknown", "unavailable")
        ),
        "the entities are right again",
        log,
    )
    right = time.monotonic()
    assert right - reconnected <= 5.0
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_BROKER) is None
    # Past the settling and three heartbeats: nothing armed before the outage fires.
    await asyncio.sleep(connection_module.BROKER_SETTLE + 3.5)
    assert _agent_issues(issue_registry) == []
    assert [e.data for e in events] == []
    assert _state(hass, PROBLEM) == "off"
    await _until(lambda: "online" in births, "HA's birth message after the reconnect", log)
    print(
        f"outage {OUTAGE:g} s ({'kill' if kill else 'stop'}): HA reconnected {reconnected - back:.1f} s "
        f"after the broker, entities right {right - reconnected:.1f} s after that "
        f"({right - back:.1f} s after the broker); agent repairs during: 0"
    )
    return reconnected - back, right - reconnected


@pytest.mark.parametrize("options", [{"offline_grace": 30.0}])  # the default
@pytest.mark.parametrize("kill", [True, False], ids=["killed", "stopped"])
async def test_broker_outage_blames_no_agent(
    hass: HomeAssistant,
    broker: Mosquitto,
    first_birth: Callable[[], bool],
    hub_entry: MockConfigEntry,
    camera_agent: Callable[[], subprocess.Popen[bytes]],
    *,
    issue_registry: ir.IssueRegistry,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kill: bool,
) -> None:
    """Killed or stopped: one hub issue, no agent repair, entities right ≤ 5 s after reconnect."""
    monkeypatch.setattr(connection_module, "BROKER_GRACE", GRACE)
    log = tmp_path / "camera.log"
    agent = camera_agent()
    await _until(lambda: _state(hass, SWITCH) == "on", "the agent's switch shows on", log)
    await _until(lambda: _state(hass, CONNECTIVITY) == "on", "the agent is connected", log)
    await _until(first_birth, "HA's first birth message", log)
    await _outage(hass, broker, issue_registry, kill=kill, log=log)
    agent.terminate()
    await hass.async_add_executor_job(agent.wait, 15)


@pytest.mark.parametrize("options", [{"offline_grace": 30.0}])
async def test_hub_started_during_an_outage(
    hass: HomeAssistant,
    broker: Mosquitto,
    first_birth: Callable[[], bool],
    hub_entry: MockConfigEntry,
    camera_agent: Callable[[], subprocess.Popen[bytes]],
    *,
    issue_registry: ir.IssueRegistry,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The hub reloads (HA restarts) while the broker is down: it starts cut off, blames nobody."""
    monkeypatch.setattr(connection_module, "BROKER_GRACE", GRACE)
    log = tmp_path / "camera.log"
    agent = camera_agent()
    await _until(lambda: _state(hass, CONNECTIVITY) == "on", "the agent is connected", log)
    await _until(first_birth, "HA's first birth message", log)
    births = await _births(hass)
    assert await hass.config_entries.async_unload(hub_entry.entry_id)
    broker.stop()
    await _until(lambda: not hass.data["mqtt"].client.connected, "HA sees the broker gone", log)
    events = async_capture_events(hass, EVENT_AGENT_PROBLEM)
    assert await hass.config_entries.async_setup(hub_entry.entry_id)
    await hass.async_block_till_done()
    hub = hub_entry.runtime_data
    assert hub.cut_off
    assert _state(hass, CONNECTIVITY) == "unknown"  # restored agent, nothing known yet
    await asyncio.sleep(GRACE + 4)  # past the grace and three heartbeats
    assert _agent_issues(issue_registry) == []
    assert [e.data for e in events] == []
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_BROKER) is not None
    await hass.async_add_executor_job(broker.start)
    await _until(lambda: _state(hass, CONNECTIVITY) == "on" and _state(hass, SWITCH) == "on", "right", log)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_BROKER) is None
    await _until(lambda: "online" in births, "HA's birth message after the reconnect", log)
    agent.terminate()
    await hass.async_add_executor_job(agent.wait, 15)
