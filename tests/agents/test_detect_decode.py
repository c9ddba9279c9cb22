"""JPEG decoding: the right size out, bad frames rejected before any expensive work."""

from __future__ import annotations

import numpy as np
import pytest

from bobby_edge.detector import decode
from tests.agents.test_detector_fixtures import noise_jpeg, scene, with_claimed_size

SIZE = (257, 257)
LIMIT = 1 << 20


@pytest.mark.parametrize("frame_size", [(640, 480), (1280, 720), (1920, 1080), (320, 240), (100, 80)])
def test_decodes_any_camera_size_to_the_model_size(frame_size: tuple[int, int]) -> None:
    rgb = decode.decode(scene("astronaut", frame_size), SIZE, 1 << 24)
    assert rgb.shape == (257, 257, 3)
    assert rgb.dtype == np.uint8
    assert 60 < rgb.mean() < 200  # a picture, not a black or white frame


def test_reduced_scale_is_a_power_of_two_near_the_model_size() -> None:
    assert decode.scale_divisor(640, 480, SIZE) == 2  # 320×240: within 10 % of 257
    assert decode.scale_divisor(1280, 720, SIZE) == 2
    assert decode.scale_divisor(1920, 1080, SIZE) == 4
    assert decode.scale_divisor(4056, 3040, SIZE) == 8
    assert decode.scale_divisor(300, 300, SIZE) == 1


def test_pillow_fallback_gives_the_same_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    jpeg = scene("camera", (1280, 720))
    fast = decode.decode(jpeg, SIZE, LIMIT)
    monkeypatch.setattr(decode, "simplejpeg", None)
    slow = decode.decode(jpeg, SIZE, LIMIT)
    assert slow.shape == fast.shape
    assert np.abs(slow.astype(int) - fast.astype(int)).mean() < 8  # IDCT rounding differs


@pytest.mark.parametrize("use_pillow", [False, True], ids=["simplejpeg", "pillow"])
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"hello, not a picture", "not a JPEG"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "not a JPEG"),
        (b"", "not a JPEG"),
        (scene("astronaut")[:4000], "corrupt JPEG"),
        (scene("astronaut")[:200], "corrupt JPEG"),
        (with_claimed_size(scene("astronaut"), 60000, 60000), "not a plausible camera frame"),
        (scene("astronaut", (8, 8)), "not a plausible camera frame"),
    ],
    ids=["text", "png", "empty", "truncated", "header-only", "absurd-size", "tiny"],
)
def test_bad_frames_are_rejected(
    payload: bytes, message: str, use_pillow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if use_pillow:
        monkeypatch.setattr(decode, "simplejpeg", None)
    with pytest.raises(decode.InvalidFrame, match=message):
        decode.decode(payload, SIZE, LIMIT)


def test_oversized_payload_is_rejected_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    big = noise_jpeg(800, 600)
    assert len(big) > 100_000

    def must_not_decode(*_args: object) -> None:
        raise AssertionError("decoded an oversized payload")

    monkeypatch.setattr(decode, "_decode_simplejpeg", must_not_decode)
    with pytest.raises(decode.InvalidFrame, match=r"over the 100000-byte limit .*raise max_payload"):
        decode.decode(big, SIZE, 100_000)
