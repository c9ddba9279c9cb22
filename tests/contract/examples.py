"""The example messages of docs/protocol.md, loaded the same way for both sides' tests."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "tests" / "protocol_examples"
PROTOCOL_DOC = REPO / "docs" / "protocol.md"


def _load(name: str) -> list[dict[str, Any]]:
    return list(json.loads((EXAMPLES / name).read_text()))


def as_bytes(payload: Any) -> bytes:
    """A string example is the raw payload; anything else is sent as JSON."""
    return payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()


def payload_of(example: dict[str, Any]) -> bytes:
    """`payload` (text as is, else JSON), `payload_hex` (raw bytes) or `payload_parts`
    (text pieces, each repeated: [[text, times], ...], for payloads too big to write out)."""
    if "payload_hex" in example:
        return bytes.fromhex(example["payload_hex"])
    if "payload_parts" in example:
        return "".join(text * times for text, times in example["payload_parts"]).encode()
    return as_bytes(example["payload"])


def valid_messages() -> list[tuple[str, bytes]]:
    return [(m["topic"], payload_of(m)) for m in _load("valid.json")]


def invalid_messages() -> list[tuple[str, bytes, str]]:
    return [(m["topic"], payload_of(m), m["why"]) for m in _load("invalid.json")]


def base_topics() -> tuple[list[str], list[str]]:
    """(valid, invalid) base topics: one rule for the agents' config and HA's config flow."""
    examples = json.loads((EXAMPLES / "base_topics.json").read_text())
    return list(examples["valid"]), list(examples["invalid"])


def region_examples() -> dict[str, list[dict[str, Any]]]:
    """Values of the frame's `regions` user property, and what a detector makes of them."""
    examples: dict[str, list[dict[str, Any]]] = json.loads((EXAMPLES / "regions.json").read_text())
    return examples


def documented_topic_table() -> dict[str, tuple[int, bool]]:
    """channel → (qos, retained), read from the topic table in docs/protocol.md."""
    table: dict[str, tuple[int, bool]] = {}
    row = re.compile(r"^\| `<base>/[^`]*/(\w+)` \|[^|]*\| (\d) \| (yes|no) \|")
    for line in PROTOCOL_DOC.read_text().splitlines():
        if match := row.match(line):
            table[match[1]] = (int(match[2]), match[3] == "yes")
    return table


def integration_protocol() -> ModuleType:
    """The integration's generated copy, loaded alone: its package imports Home Assistant."""
    name = "bobby_camera_protocol_copy"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO / "custom_components/bobby_camera/protocol.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]
