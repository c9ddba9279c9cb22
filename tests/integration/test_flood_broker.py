"""Issue 21, 3 through a real Mosquitto and HA's real MQTT client: floods stay quiet.

- A camera login, under the shipped ACL, writes 500 payloads that are not UTF-8 on its own
  `info` topic (which the manifest's discovery subscription reads): HA's log grows by a
  few lines, not by 8 KB a message (4.4 MB before).
- 200 made-up cameras that announce themselves and fall silent: the cap admits 64, and
  their silence is ONE summary repair beside the limit's, not one per camera.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.bobby_camera.const import DOMAIN
from tests.support.mosquitto import Mosquitto

from .common import setup_real_mqtt
from .test_least_privilege import SHIPPED_ACL
from .test_real_broker import _until

LOGINS = {"homeassistant": "ha-secret", "cam1": "cam1-secret"}
HOSTILE = b"\xff\xfe" * 4400  # 8.8 KB that no UTF-8 decoder takes


@pytest.fixture
def acl_broker(socket_enabled: None, tmp_path: Path) -> Generator[Mosquitto]:
    """Mosquitto with the shipped ACL and one login per agent."""
    server = Mosquitto(
        tmp_path / "broker",
        users=LOGINS,
        acl_file=SHIPPED_ACL,
        listener_options=["use_username_as_clientid true"],
    ).start()
    yield server
    server.stop()


@pytest.fixture
async def hub_on_acl(
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


@pytest.fixture
def clients() -> Generator[Callable[[Mosquitto, str | None], Any]]:
    """Plain paho clients (a login of LOGINS, or anonymous), stopped after the test."""
    import paho.mqtt.client as paho

    started: list[Any] = []

    def start(broker: Mosquitto, login: str | None = None) -> Any:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=login or "flood")
        if login:
            client.username_pw_set(login, LOGINS[login])
        client.connect(broker.host, broker.port)
        client.loop_start()
        started.append(client)
        return client

    yield start
    for client in started:
        client.loop_stop()
        client.disconnect()


def _logged(caplog: pytest.LogCaptureFixture) -> int:
    return sum(len(r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING)


async def test_hostile_payloads_do_not_fill_the_log(
    hass: HomeAssistant,
    hub_on_acl: MockConfigEntry,
    acl_broker: Mosquitto,
    clients: Callable[[Mosquitto, str | None], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """500 undecodable `info` payloads from cam1's own login: a few log lines, all counted."""
    hub = hub_on_acl.runtime_data
    client = await hass.async_add_executor_job(clients, acl_broker, "cam1")
    info = {"v": 1, "kind": "camera", "id": "cam1", "version": "0", "stats_interval": 10}

    def announced() -> bool:  # once HA has subscribed
        client.publish("bobby/camera/cam1/info", json.dumps(info), qos=1)
        return "camera_cam1" in hub.agents

    await _until(announced, "HA subscribed")
    before = _logged(caplog)
    for _ in range(500):
        client.publish("bobby/camera/cam1/info", HOSTILE, qos=0)
    await _until(lambda: hub.invalid_messages >= 500, "the hub saw them all")
    growth = _logged(caplog) - before
    print(f"log growth for 500 hostile payloads: {growth} characters")
    await asyncio.sleep(0.5)  # HA's discovery subscription gets them too (its lines would follow)
    assert hub.invalid_messages == 500  # counted once each, by the hub's own subscription
    assert growth < 20_000  # was 4.4 MB


@pytest.mark.parametrize("options", [{"offline_grace": 30.0}])
async def test_a_flood_of_fake_cameras_makes_two_repairs(
    hass: HomeAssistant,
    broker: Mosquitto,
    hub_entry: MockConfigEntry,
    clients: Callable[[Mosquitto, str | None], Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    """200 fake cameras, silent after 3 s: the limit repair and one summary, nothing per camera."""
    client = await hass.async_add_executor_job(clients, broker, None)
    for n in range(200):  # retained, as agents announce themselves: HA gets them once subscribed
        info = {"v": 1, "kind": "camera", "id": f"fake{n}", "version": "0", "stats_interval": 1}
        client.publish(f"bobby/camera/fake{n}/status", "online", qos=1, retain=True)
        client.publish(f"bobby/camera/fake{n}/info", json.dumps(info), qos=1, retain=True)
    hub = hub_entry.runtime_data
    await _until(
        lambda: "many_silent" in _issues(issue_registry) and hub.refused_agents >= 136, "the flood is seen"
    )
    await asyncio.sleep(1)
    assert len(hub.agents) == 64
    assert _issues(issue_registry) == {"agent_limit", "many_silent"}


def _issues(registry: ir.IssueRegistry) -> set[str]:
    return {issue_id for (domain, issue_id) in registry.issues if domain == DOMAIN}
