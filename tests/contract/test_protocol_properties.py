"""Random input through both sides' protocol modules (the source and the generated copy):
they agree, raise nothing but ProtocolError, and what they accept is safe to store and
serialise (Home Assistant writes it to JSON: no NaN, no lone surrogate, bounded depth)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bobby_edge import protocol
from tests.contract.examples import integration_protocol, valid_messages
from tests.support import strategies

SIDES = (protocol, integration_protocol())
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CHANNELS = sorted(protocol.CHANNELS)
topics = st.one_of(
    st.builds(
        "{}/{}/{}/{}".format,
        st.sampled_from(["bobby", "home/bobby", "", "$bobby", "a//b"]),
        st.sampled_from([*protocol.KINDS, "doorbell"]),
        st.sampled_from(["porch", "pi4-a", "porch\n", "a b", ""]),
        st.sampled_from([*CHANNELS, "bogus"]),
    ),
    st.text(max_size=40),
)
json_values = strategies.json_values(container_size=5, key_size=10, max_leaves=30)
valid = valid_messages()


def _outcome(side: Any, topic: str, payload: bytes | str) -> tuple[str, Any]:
    """What one side makes of a message: ("ok", parts) or ("error", message)."""
    try:
        parsed, data = side.parse_message(topic, payload)
    except side.ProtocolError as err:
        return "error", str(err)
    return "ok", ((parsed.base, parsed.kind, parsed.agent_id, parsed.channel), data)


def _check(topic: str, payload: bytes | str) -> None:
    outcomes = [_outcome(side, topic, payload) for side in SIDES]
    assert outcomes[0] == outcomes[1]
    kind, result = outcomes[0]
    if kind == "ok" and not isinstance(result[1], bytes):
        # What was accepted serialises strictly: finite numbers, UTF-8 encodable strings.
        # A chunk is (header, video bytes): its header is the JSON part.
        accepted = result[1][0] if isinstance(result[1], tuple) else result[1]
        json.dumps(accepted, allow_nan=False).encode()


@SETTINGS
@given(topic=topics, payload=st.binary(max_size=300))
def test_random_bytes(topic: str, payload: bytes) -> None:
    _check(topic, payload)


@SETTINGS
@given(topic=topics, payload=st.text(max_size=200))
def test_random_text(topic: str, payload: str) -> None:
    _check(topic, payload)


@SETTINGS
@given(channel=st.sampled_from(CHANNELS), value=json_values)
def test_random_json(channel: str, value: Any) -> None:
    _check(f"bobby/camera/porch/{channel}", json.dumps(value).encode())


@SETTINGS
@given(example=st.sampled_from(valid), key=st.text(max_size=15), value=json_values)
def test_valid_messages_with_one_key_changed(example: tuple[str, bytes], key: str, value: Any) -> None:
    """Hostile values where the contract expects something precise."""
    topic, payload = example
    try:
        data = json.loads(payload)
    except ValueError:
        return  # status and JPEG examples
    if not isinstance(data, dict):
        return
    keys = [*data, key]
    for changed in keys[:: max(1, len(keys) // 4)]:
        _check(topic, json.dumps({**data, changed: value}).encode())


@SETTINGS
@given(
    example=st.sampled_from(valid), cut=st.integers(min_value=0, max_value=400), junk=st.binary(max_size=8)
)
def test_valid_messages_cut_and_spliced(example: tuple[str, bytes], cut: int, junk: bytes) -> None:
    topic, payload = example
    _check(topic, payload[:cut] + junk + payload[cut + len(junk) :])
