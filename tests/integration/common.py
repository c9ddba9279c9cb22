"""Helpers shared by the integration tests: payload fixtures and MQTT message helpers."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from pytest_homeassistant_custom_component.common import async_fire_mqtt_message

from homeassistant.core import HomeAssistant

FIXTURES = Path(__file__).parent / "fixtures"
# The smallest valid JPEG would do for HA; the bytes are opaque to the integration.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 16 + b"\xff\xd9"


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
    kind, _, service_id = name.partition("_")
    for channel in ("status", "info", "state"):
        fire(hass, f"{base}/{kind}/{service_id}/{channel}", payload(name, channel), retain=True)
    if stats:
        fire(hass, f"{base}/{kind}/{service_id}/stats", payload(name, "stats"))
