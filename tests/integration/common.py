"""Helpers shared by the integration tests: payload fixtures and MQTT message helpers."""

from __future__ import annotations

import asyncio
import copy
import io
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message

from tests.support.mosquitto import Mosquitto

_VOLATILE = frozenset({"access_token", "entity_picture"})
FIXTURES = Path(__file__).parent / "fixtures"


def _small_jpeg() -> bytes:
    from PIL import Image  # Home Assistant depends on Pillow

    buffer = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buffer, "JPEG")
    return buffer.getvalue()


# A real JPEG: the integration checks snapshot and preview headers (docs/protocol.md).
JPEG = _small_jpeg()
# A fixed start for the pure modules' clocks.
START = datetime(2026, 1, 1, tzinfo=UTC)


async def setup_real_mqtt(
    hass: HomeAssistant, broker: Mosquitto, login: tuple[str, str] | None = None
) -> MockConfigEntry:
    """HA's own MQTT integration, connected to a real broker (entry format of the running HA)."""
    credentials = {"username": login[0], "password": login[1]} if login else {}
    entry = MockConfigEntry(
        domain=mqtt.DOMAIN,
        title="MQTT",
        data={mqtt.CONF_BROKER: broker.host, "port": broker.port, **credentials},
        version=mqtt.CONFIG_ENTRY_VERSION,
        minor_version=mqtt.CONFIG_ENTRY_MINOR_VERSION,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@cache
def _agents() -> dict[str, Any]:
    return json.loads((FIXTURES / "agents.json").read_text())


def payload(name: str, channel: str, **changes: Any) -> Any:
    """A copy of a fixture payload with some keys changed."""
    data = copy.deepcopy(_agents()[name][channel] if channel else _agents()[name])
    if isinstance(data, dict):
        data.update(changes)
    return data


def detection(**changes: Any) -> dict[str, Any]:
    """A detection on camera `porch`."""
    data = copy.deepcopy(_agents()["detection"])
    data.update(changes)
    return data


def fire(hass: HomeAssistant, topic: str, data: Any, *, retain: bool = False) -> None:
    """Deliver one message as HA's MQTT client would (JSON-encodes dicts)."""
    raw = data if isinstance(data, bytes | str) else json.dumps(data)
    async_fire_mqtt_message(hass, topic, raw, qos=1, retain=retain)


def announce(hass: HomeAssistant, name: str, *, stats: bool = True, base: str = "bobby") -> None:
    """Deliver what a running agent has retained (and one stats message)."""
    kind, _, agent_id = name.partition("_")
    for channel in ("status", "info", "state"):
        fire(hass, f"{base}/{kind}/{agent_id}/{channel}", payload(name, channel), retain=True)
    if stats:
        fire(hass, f"{base}/{kind}/{agent_id}/stats", payload(name, "stats"))


def device(hass: HomeAssistant, config_entry_id: str, key: str) -> Any:
    """The device registry entry of the hub (key = entry id) or of a service (`camera_porch`)."""
    from homeassistant.helpers import device_registry as dr

    from custom_components.bobby_camera.compat import find_device

    return find_device(dr.async_get(hass), config_entry_id, ("bobby_camera", key))


def entity_summary(hass: HomeAssistant, config_entry_id: str, domain: str) -> dict[str, Any]:
    """The entities of one platform, as a snapshot that holds on both HA lanes.

    HA's own snapshot of registry entries lists every field of the registry, which
    grows between releases; this keeps the fields our code decides.
    """
    from homeassistant.helpers import entity_registry as er

    summary: dict[str, Any] = {}
    for entry in er.async_entries_for_config_entry(er.async_get(hass), config_entry_id):
        if entry.domain != domain:
            continue
        state = hass.states.get(entry.entity_id)
        summary[entry.entity_id] = {
            "unique_id": entry.unique_id,
            "translation_key": entry.translation_key,
            "original_name": entry.original_name,
            "original_device_class": entry.original_device_class,
            "entity_category": entry.entity_category,
            "unit_of_measurement": entry.unit_of_measurement,
            "disabled_by": entry.disabled_by,
            "state": None if state is None else state.state,
            # 2026.x keys some attributes by StrEnum members: plain strings hold on both lanes.
            "attributes": None
            if state is None
            else {str(getattr(k, "value", k)): v for k, v in state.attributes.items() if k not in _VOLATILE},
        }
    assert summary, f"no {domain} entities"
    return dict(sorted(summary.items()))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def settle() -> None:
    """Let pending callbacks and the hub's background tasks run, without waiting for the
    action that awaits its ack (block_till_done would)."""
    for _ in range(20):
        await asyncio.sleep(0)
