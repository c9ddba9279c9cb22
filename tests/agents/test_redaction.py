"""Camera credentials never leave the agent as text: URLs, error messages, the printed config."""

from __future__ import annotations

import pytest

from bobby_edge.config import load_camera
from bobby_edge.redaction import MASK, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@192.168.1.20:554/stream2", "rtsp://admin:***@192.168.1.20:554/stream2"),
        ("rtsps://cam.local/live", "rtsps://cam.local/live"),  # nothing to hide
        ("rtsp://admin@cam/live", "rtsp://admin@cam/live"),  # a user without a password
        (
            "rtsp://cam/h264Preview_01_sub?user=admin&password=hunter2&channel=1",
            "rtsp://cam/h264Preview_01_sub?user=admin&password=***&channel=1",
        ),
        ("http://cam/snap.cgi?token=abc123&pwd=x", "http://cam/snap.cgi?token=***&pwd=***"),
        ("rtsp://admin:p%40ss@[fe80::1]:554/s", "rtsp://admin:***@[fe80::1]:554/s"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_that_does_not_parse_still_hides_the_password() -> None:
    assert redact_url("rtsp://admin:hunter2@cam:notaport/x") == "rtsp://admin:***@cam:notaport/x"


def test_redact_text_hides_urls_and_every_spelling_of_a_secret() -> None:
    secret = "p@ss word/1"
    message = (
        "Server returned 401: 'rtsp://admin:p%40ss%20word%2F1@cam/live' (tried p@ss word/1, p%40ss+word%2F1)"
    )
    redacted = redact_text(message, [secret])
    assert "p@ss" not in redacted
    assert "p%40ss" not in redacted
    assert "rtsp://admin:***@cam/live" in redacted
    assert redacted.count(MASK) == 3
    assert redact_text("nothing secret here", [None, ""]) == "nothing secret here"


def test_config_repr_masks_the_source_and_leaves_out_passwords() -> None:
    config = load_camera(
        {"source": "rtsp://admin:url-secret@cam/live", "id": "porch"},
        environ={"BOBBY_SOURCE_PASSWORD": "env-secret", "BOBBY_PASSWORD": "broker-secret"},
    )
    assert config.rtsp.source_password == "env-secret"
    text = repr(config)
    for secret in ("url-secret", "env-secret", "broker-secret"):
        assert secret not in text
    assert "source='rtsp://admin:***@cam/live'" in text
    assert "rtsp_transport='tcp'" in text
