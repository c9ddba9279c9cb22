"""The example messages of docs/protocol.md, loaded the same way for both sides' tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "protocol_examples"
PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _load(name: str) -> list[dict[str, Any]]:
    return list(json.loads((EXAMPLES / name).read_text()))


def as_bytes(payload: Any) -> bytes:
    """A string example is the raw payload; anything else is sent as JSON."""
    return payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()


def valid_messages() -> list[tuple[str, bytes]]:
    return [(m["topic"], as_bytes(m["payload"])) for m in _load("valid.json")]


def invalid_messages() -> list[tuple[str, bytes, str]]:
    return [(m["topic"], as_bytes(m["payload"]), m["why"]) for m in _load("invalid.json")]


def documented_topic_table() -> dict[str, tuple[int, bool]]:
    """channel → (qos, retained), read from the topic table in docs/protocol.md."""
    table: dict[str, tuple[int, bool]] = {}
    row = re.compile(r"^\| `<base>/[^`]*/(\w+)` \|[^|]*\| (\d) \| (yes|no) \|")
    for line in PROTOCOL_DOC.read_text().splitlines():
        if match := row.match(line):
            table[match[1]] = (int(match[2]), match[3] == "yes")
    return table
