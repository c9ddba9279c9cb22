"""The integration's side of the contract: custom_components/bobby_camera/protocol.py against the
example messages of docs/protocol.md (the agents' side is tests/contract/test_agent_side.py)."""

from __future__ import annotations

import pytest

from custom_components.bobby_camera import protocol
from tests.contract.examples import documented_topic_table, invalid_messages, valid_messages


@pytest.mark.parametrize(("topic", "payload"), valid_messages())
def test_valid_example_is_accepted(topic: str, payload: bytes) -> None:
    """Every valid example parses, and the topic round-trips."""
    parsed, data = protocol.parse_message(topic, payload)
    assert protocol.build_topic(parsed.base, parsed.kind, parsed.service_id, parsed.channel) == topic
    assert data is not None


@pytest.mark.parametrize(("topic", "payload", "why"), invalid_messages())
def test_invalid_example_is_rejected(topic: str, payload: bytes, why: str) -> None:
    """Every invalid example is rejected with a ProtocolError."""
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_message(topic, payload)


def test_qos_and_retain_follow_the_document() -> None:
    """The QoS and retain flags the integration uses are those of the topic table."""
    table = documented_topic_table()
    assert set(table) == set(protocol.QOS)
    for channel, (qos, retained) in table.items():
        assert protocol.QOS[channel] == qos, channel
        assert (channel in protocol.RETAINED) == retained, channel


def test_base_topic_must_match() -> None:
    """Messages under another base topic are not ours."""
    with pytest.raises(protocol.ProtocolError, match="base topic"):
        protocol.parse_message("other/camera/porch/status", b"online", base="bobby")
    parsed, _ = protocol.parse_message("home/bobby/camera/porch/status", b"online", base="home/bobby")
    assert parsed.service_id == "porch"


def test_oversized_and_non_utf8_payloads_are_rejected() -> None:
    """Large or undecodable payloads never reach json.loads unchecked."""
    with pytest.raises(protocol.ProtocolError, match="limit"):
        protocol.parse_message("bobby/camera/porch/state", b"{" + b" " * protocol.MAX_JSON_BYTES + b"}")
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_message("bobby/camera/porch/state", b"\xff\xfe{}")
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_message("bobby/camera/porch/status", b"\xff")


def test_commands_we_send_are_valid() -> None:
    """encode_command output passes the command check both sides apply."""
    payload = protocol.encode_command("r1", enabled=False)
    protocol.check_command("camera", protocol.decode_json(payload))
    with pytest.raises(protocol.ProtocolError):
        protocol.check_command(
            "detector", protocol.decode_json(protocol.encode_command("r2", action="preview"))
        )


@pytest.mark.parametrize(
    ("base", "valid"),
    [
        ("bobby", True),
        ("home/bobby", True),
        ("", False),
        ("a/+/b", False),
        ("bobby/#", False),
        ("/bobby", False),
    ],
)
def test_base_topic_validation(base: str, valid: bool) -> None:
    """Base topics with wildcards or empty levels are refused by the config flow."""
    assert protocol.is_valid_base_topic(base) is valid


def test_parser_imports_no_home_assistant() -> None:
    """The parser stays pure Python, so it runs (and is tested) without Home Assistant."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(protocol.__file__).read_text())
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
    }
    assert imported <= {"__future__", "collections", "dataclasses", "json", "math", "re", "typing"}
