"""The agents' side of the contract: bobby_edge.protocol against docs/protocol.md's examples."""

from __future__ import annotations

from typing import Any

import pytest

from bobby_edge import protocol
from tests.contract.examples import (
    PROTOCOL_DOC,
    documented_topic_table,
    invalid_messages,
    region_examples,
    valid_messages,
)


@pytest.mark.parametrize(("topic", "payload"), valid_messages())
def test_valid_example_is_accepted(topic: str, payload: bytes) -> None:
    parsed, _ = protocol.parse_message(topic, payload)
    assert str(parsed) == topic


@pytest.mark.parametrize(("topic", "payload", "why"), invalid_messages())
def test_invalid_example_is_rejected(topic: str, payload: bytes, why: str) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_message(topic, payload)


def test_qos_and_retain_follow_the_document() -> None:
    documented = documented_topic_table()
    assert set(documented) == set(protocol.CHANNELS)
    for channel, (qos, retained) in documented.items():
        assert protocol.QOS[channel] == qos, channel
        assert (channel in protocol.RETAINED) == retained, channel


def test_encode_adds_the_schema_version_and_round_trips() -> None:
    payload = protocol.encode({"enabled": True, "fps": 2.0})
    _, data = protocol.parse_message("bobby/camera/porch/state", payload)
    assert data == {"v": protocol.SCHEMA_VERSION, "enabled": True, "fps": 2.0}


def test_oversized_json_is_rejected_before_parsing() -> None:
    payload = b'{"v": 1, "pad": "' + b"x" * protocol.MAX_JSON_BYTES + b'"}'
    with pytest.raises(protocol.ProtocolError, match="limit"):
        protocol.parse_message("bobby/camera/porch/state", payload)


def test_shared_frame_subscription() -> None:
    assert protocol.frame_subscription("bobby", "g1") == "$share/g1/bobby/camera/+/frame"
    assert protocol.frame_subscription("home/cams", None) == "home/cams/camera/+/frame"


@pytest.mark.parametrize("example", region_examples()["valid"], ids=lambda e: e["value"][:40])
def test_valid_regions_are_read_as_given(example: dict[str, Any]) -> None:
    parsed = protocol.parse_regions(example["value"])
    assert parsed.readable
    assert parsed.problem is None
    assert [list(b) for b in parsed.boxes] == example["boxes"]


@pytest.mark.parametrize("example", region_examples()["invalid"], ids=lambda e: e["why"])
def test_invalid_regions_are_defused_and_reported(example: dict[str, Any]) -> None:
    parsed = protocol.parse_regions(example["value"])
    assert parsed.problem
    assert parsed.readable == example["readable"]
    assert len(parsed.boxes) == len(example["boxes"])
    for got, expected in zip(parsed.boxes, example["boxes"], strict=True):
        assert got == pytest.approx(expected)


def test_regions_are_documented_with_their_limits() -> None:
    text = PROTOCOL_DOC.read_text()
    assert f"`{protocol.REGIONS_PROPERTY}`" in text
    assert f"{protocol.MAX_REGIONS} largest" in text
