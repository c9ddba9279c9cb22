"""The detector's side of the self-test: a real detector, a real Mosquitto, the real model,
and the very pictures Home Assistant makes (custom_components/bobby_camera/testpicture.py,
loaded alone: it needs only Pillow)."""

from __future__ import annotations

import importlib.util
import logging
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bobby_edge import protocol
from tests.agents import test_detector_fixtures as fx
from tests.agents.test_detector_fixtures import Camera, next_stats, running_detector, scene, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

model_path = fx.model_path
camera = fx.camera

REPO = Path(__file__).resolve().parents[2]


def _load_testpicture() -> ModuleType:
    path = REPO / "custom_components" / "bobby_camera" / "testpicture.py"
    spec = importlib.util.spec_from_file_location("bobby_testpicture", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


testpicture = _load_testpicture()


def _ask(probe: Probe, detector: str, request_id: str, jpeg: bytes) -> dict[str, Any]:
    mark = probe.mark()
    probe.publish(f"bobby/detector/{detector}/selftest", protocol.encode_selftest(request_id, jpeg))
    return _answer(probe, detector, mark)


def _answer(probe: Probe, detector: str, since: int) -> dict[str, Any]:
    message = probe.on_topic(f"bobby/detector/{detector}/selftest_result", timeout=30, since=since)
    assert not message.retain
    return dict(protocol.parse_message(message.topic, message.payload)[1])  # type: ignore[arg-type]


def test_the_test_picture_is_found_where_it_was_placed_and_is_no_detection(
    broker: Mosquitto, probe: Probe, model_path: Path
) -> None:
    probe.subscribe("bobby/#")
    rng = random.Random(22)
    previous = None
    with running_detector(broker, probe, model_path, "st1") as agent:
        info = probe.on_topic("bobby/detector/st1/info")
        assert (
            protocol.SELFTEST_CAPABILITY
            in protocol.parse_message(info.topic, info.payload)[1]["capabilities"]
        )  # type: ignore[index]
        ious = []
        for i in range(8):
            picture = testpicture.make(rng, previous)
            previous = picture.person
            result = _ask(probe, "st1", f"req{i}", picture.jpeg)
            assert result["id"] == f"req{i}"
            assert result["ok"] is True
            assert result["person_count"] == len(result["boxes"]) >= 1
            assert result["inference_ms"] > 0
            ious.append(max(testpicture.iou(tuple(b["box"]), picture.person) for b in result["boxes"]))
        assert min(ious) >= 0.5, ious
        stats = next_stats(probe, "st1")
        assert stats["selftests"] == 8
        assert stats["selftests_invalid"] == 0
        # Counted apart: no frame received or analysed, nothing published for a camera.
        assert stats["frames_received"] == stats["frames_analysed"] == 0
        assert agent.frames_analysed == 0
    assert not [m.topic for m in probe.messages if m.topic.startswith("bobby/camera/")]


def test_a_threshold_of_099_makes_the_default_model_find_nobody(
    broker: Mosquitto, probe: Probe, model_path: Path
) -> None:
    """The owner's typo the self-test must catch: the best score on the pictures is ~0.93."""
    rng = random.Random(7)
    probe.subscribe("bobby/detector/#")
    with running_detector(broker, probe, model_path, "st2", threshold=0.99):
        for i in range(5):
            result = _ask(probe, "st2", f"t{i}", testpicture.make(rng).jpeg)
            assert result["ok"] is True
            assert result["boxes"] == []
            assert result["person_count"] == 0


def test_the_self_test_is_answered_while_busy_and_while_disabled(
    broker: Mosquitto, probe: Probe, camera: Camera, model_path: Path
) -> None:
    """Answered on a busy detector (a worker takes it before the frames of 20 cameras)."""
    probe.subscribe("bobby/detector/#")
    person = scene("astronaut")
    with running_detector(broker, probe, model_path, "st3") as agent:
        for cam in range(20):
            camera.send(f"cam{cam}", person)
        result = _ask(probe, "st3", "busy", testpicture.make(random.Random(3)).jpeg)
        assert result["ok"] is True
        assert result["boxes"]
        # The core stops testing a disabled detector; one that gets a test anyway answers it.
        mark = probe.mark()
        probe.publish("bobby/detector/st3/set", protocol.encode({"id": "off", "enabled": False}))
        probe.on_topic("bobby/detector/st3/ack", since=mark)
        result = _ask(probe, "st3", "off", testpicture.make(random.Random(4)).jpeg)
        assert result["ok"] is True
        wait_until(lambda: agent.selftests.answered == 2, what="two self-tests counted")


def test_bad_self_tests_are_refused_logged_once_and_survived(
    broker: Mosquitto, probe: Probe, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bobby_edge")
    probe.subscribe("bobby/detector/#")
    good = testpicture.make(random.Random(5)).jpeg
    topic = "bobby/detector/st4/selftest"
    with running_detector(broker, probe, model_path, "st4") as agent:
        # A JPEG whose header reads but whose data is cut off: answered, ok false.
        mark = probe.mark()
        probe.publish(topic, protocol.encode_selftest("cut", good[: len(good) // 3]))
        cut = _answer(probe, "st4", mark)
        assert cut["id"] == "cut"
        assert cut["ok"] is False
        assert "JPEG" in cut["error"]
        # Unreadable requests: no header line, hostile JSON, no id, not a JPEG, 1.5 MiB.
        hostile = [
            good,
            b"[" * 5000 + b"]" * 5000 + b"\n" + good,
            b'{"v":1,"id":1e999}\n' + good,
            b'{"v":1}\n' + good,
            b'{"v":1,"id":"x"}\nGIF89a' + b"\0" * 100,
            protocol.encode_selftest("big", good + b"\0" * (1536 * 1024)),
        ]
        for _ in range(10):
            for payload in hostile:
                probe.publish(topic, payload)
        wait_until(lambda: agent.selftests.invalid == 60, what="sixty refused self-tests")
        # Still answering after all that, and still analysing frames.
        result = _ask(probe, "st4", "after", good)
        assert result["ok"] is True
        assert result["boxes"]
        stats = next_stats(probe, "st4")
        assert stats["selftests_invalid"] == 60
        assert stats["selftests"] == 2
    refused = [r.getMessage() for r in caplog.records if "refused a" in r.getMessage()]
    assert 1 <= len(refused) <= 3, refused  # throttled: one line, then one per interval
    assert not any("GIF" in line or "[[[" in line for line in refused), refused
