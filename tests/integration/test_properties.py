"""Random messages through the integration's MQTT handlers (issue 11).

Hypothesis drives topics and payloads (random bytes, random JSON, valid payloads with one
key made hostile, nesting and huge numbers) into the hub as HA's MQTT client delivers
them. After every example: no handler raised (HA logs a handler's exception as an
ERROR), and HA's state machine, device, entity and issue registries serialise with HA's
own JSON encoder — what `GET /api/states` and the registry saves do.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.json import json_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.support import strategies

from .common import JPEG, announce, fire, payload

CHANNELS = ("status", "info", "state", "ack", "stats", "detection", "snapshot", "preview")
IDS = ("porch", "pi4", "cam2", "x")

json_values = strategies.json_values(container_size=4, key_size=8, max_leaves=20)


def _valid(kind: str, agent_id: str, channel: str) -> Any:
    name = "camera_porch" if kind == "camera" else "detector_pi4"
    if channel == "status":
        return "online"
    if channel in ("snapshot", "preview"):
        return JPEG
    if channel == "detection":
        return payload("detection", "", camera=agent_id)
    if channel == "ack":
        return {"v": 1, "id": "abc", "ok": True, "state": payload(name, "state")}
    data = payload(name, channel)
    if channel == "info":
        data["id"] = agent_id
    return data


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(("camera", "detector")))
    agent_id = draw(st.sampled_from(IDS))
    channel = draw(st.sampled_from(CHANNELS))
    topic = f"bobby/{kind}/{agent_id}/{channel}"
    valid = _valid(kind, agent_id, channel)
    how = draw(st.sampled_from(("valid", "mutated", "json", "bytes", "hostile")))
    if how == "valid":
        raw = valid
    elif how == "mutated" and isinstance(valid, dict):
        key = draw(st.sampled_from(sorted(valid)))
        raw = {**valid, key: draw(json_values)}
    elif how == "json":
        raw = json.dumps(draw(json_values))
    elif how == "hostile":
        raw = draw(
            st.sampled_from(
                (
                    b"[" * 5000 + b"]" * 5000,
                    b'{"v":1,"enabled":1' + b"0" * 400 + b"}",
                    b'{"v":1,"kind":"camera","id":"porch","version":"1","stats_interval":1,"name":"\\ud800"}',
                    b'{"v":1,"kind":"camera","id":"porch","version":"1","stats_interval":1,"name":"a\\u0000b"}',
                    b"\xff\xd8\xff\xc0\x00\x11\x08\xff\xff\xff\xff",
                    b"",
                )
            )
        )
    else:
        raw = draw(st.binary(max_size=200))
    data = raw if isinstance(raw, bytes | str) else json.dumps(raw, allow_nan=True)
    return topic, data.encode() if isinstance(data, str) else data


def _assert_serialisable(hass: HomeAssistant) -> None:
    json_bytes([state.as_dict() for state in hass.states.async_all()])
    json_bytes(dr.async_get(hass)._data_to_save())
    json_bytes(er.async_get(hass)._data_to_save())
    json_bytes([issue.to_json() for issue in ir.async_get(hass).issues.values()])


async def test_random_messages_harm_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing raises; the state machine and the registries stay serialisable."""
    announce(hass, "camera_porch")
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    caplog.set_level(logging.WARNING)

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(batch=st.lists(messages(), min_size=1, max_size=8), retain=st.booleans())
    def run(batch: list[tuple[str, bytes]], retain: bool) -> None:
        # Runs on the event loop's thread: HA's MQTT client calls the hub's callback synchronously.
        caplog.clear()
        for topic, raw in batch:
            fire(hass, topic, raw, retain=retain)
        errors = [r.getMessage()[:300] for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors
        _assert_serialisable(hass)

    run()
    await hass.async_block_till_done()  # the entities the messages created are added now
    _assert_serialisable(hass)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
