"""One contract in code: the integration's protocol module is the agents' one, copied exactly,
and the rules docs/protocol.md states are the module's constants."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bobby_edge import protocol
from bobby_edge.config import ConfigError, load_camera
from tests.contract.examples import PROTOCOL_DOC, REPO, base_topics, integration_protocol


def test_the_integration_carries_an_exact_copy() -> None:
    """Fails when someone edits one side only: run scripts/sync-protocol."""
    check = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "sync-protocol"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("base", base_topics()[0])
def test_valid_base_topic_is_accepted_by_both_sides_and_the_agents_config(base: str) -> None:
    assert protocol.is_valid_base_topic(base)
    assert integration_protocol().is_valid_base_topic(base)
    assert load_camera({"id": "porch", "base_topic": base}, environ={}).base_topic == base


@pytest.mark.parametrize("base", base_topics()[1])
def test_invalid_base_topic_is_refused_by_both_sides_and_the_agents_config(base: str) -> None:
    assert not protocol.is_valid_base_topic(base)
    assert not integration_protocol().is_valid_base_topic(base)
    with pytest.raises(ConfigError, match="base_topic: use 1-128 characters"):
        load_camera({"id": "porch", "base_topic": base}, environ={})


def _documented_limits() -> dict[str, str]:
    """The limits table of docs/protocol.md: constant name → value as written."""
    row = re.compile(r"^\| [^|]+ \| `(\w+)` = ([^|]+?) \|")
    return {m[1]: m[2] for line in PROTOCOL_DOC.read_text().splitlines() if (m := row.match(line))}


def test_the_document_states_the_limits_the_code_applies() -> None:
    documented = _documented_limits()
    assert set(documented) == {
        "MAX_JSON_BYTES",
        "MAX_NESTING",
        "MAX_INTEGER",
        "MAX_STRING_LENGTH",
        "MAX_TEXT_LENGTH",
        "MAX_LIST_LENGTH",
        "MAX_BASE_TOPIC_LENGTH",
        "MAX_JPEG_BYTES",
        "MAX_JPEG_SIDE",
        "MAX_JPEG_PIXELS",
    }
    for name, written in documented.items():
        assert int(written.replace(",", "").split()[0]) == getattr(protocol, name), name


def test_jpeg_dimensions_reads_the_frame_header() -> None:
    import io

    from PIL import Image  # the agents' dependency makes real JPEGs here

    for size, mode in (((320, 240), "RGB"), ((17, 5), "L")):
        buffer = io.BytesIO()
        Image.new(mode, size).save(buffer, "JPEG", progressive=mode == "L")
        assert protocol.jpeg_dimensions(buffer.getvalue()) == size
        assert protocol.check_jpeg(buffer.getvalue()) == size


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "not a JPEG"),
        (b"\xff\xd8", "cut off"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "cut off"),
        (b"\xff\xd8\xff\xd9\x00\x00", "before any frame header"),
        (b"\xff\xd8\xff\xda\x00\x08", "before any frame header"),
        (b"\xff\xd8\x00\x00", "no marker"),
        (b"\xff\xd8\xff\xc0\x00\x0b\x08\x00\x00\x00\x10\x01\x01\x11\x00", "no size"),
        (b"\xff\xd8" + b"\xff\xfe\x00\x02" * 200, "no frame header in its first 128"),
    ],
)
def test_jpeg_dimensions_refuses_what_is_not_a_jpeg(data: bytes, words: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=words):
        protocol.jpeg_dimensions(data)


def test_check_jpeg_applies_the_byte_and_pixel_limits() -> None:
    header = b"\xff\xd8\xff\xc0\x00\x0b\x08" + (9000).to_bytes(2, "big") * 2 + b"\x01\x01\x11\x00"
    with pytest.raises(protocol.ProtocolError, match="over the limits"):
        protocol.check_jpeg(header)
    with pytest.raises(protocol.ProtocolError, match="over the 10-byte limit"):
        protocol.check_jpeg(header, max_bytes=10)
