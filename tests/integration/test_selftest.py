"""The detector self-test in Home Assistant: what is sent, when, and how the answer is judged.

The test plays the detector through HA's MQTT fixtures: it reads the picture the core
publishes, finds the person in it the simple way (the picture is a person pasted on one
flat colour) and answers as a detector would — right, wrong, or not at all. The real
detector's side is tests/integration/test_selftest_detector.py.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from PIL import Image
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera import protocol, testpicture
from custom_components.bobby_camera.const import (
    DEFAULT_SELFTEST_INTERVAL,
    DOMAIN,
    EVENT_AGENT_PROBLEM,
)

from .common import fire, payload, settle

PROBLEM = "binary_sensor.pi_4_detector_problem"
ISSUE = "detector_pi4_blind"
TOPIC = "bobby/detector/pi4/selftest"
RESULT = "bobby/detector/pi4/selftest_result"
INFO = payload(
    "detector_pi4",
    "info",
    capabilities=["threshold", "min_area", "expires", "regions", "tiles", "selftest"],
    stats_interval=600,  # the heartbeat is not what these tests watch
)


def _announce(hass: HomeAssistant, info: dict[str, Any] | None = None) -> None:
    fire(hass, "bobby/detector/pi4/status", "online", retain=True)
    fire(hass, "bobby/detector/pi4/info", info or INFO, retain=True)
    fire(hass, "bobby/detector/pi4/state", payload("detector_pi4", "state"), retain=True)


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _requests(mqtt_mock: MqttMockHAClient) -> list[tuple[str, bytes]]:
    """(request id, JPEG) of every self-test the core published, oldest first."""
    found = []
    for call in mqtt_mock.async_publish.call_args_list:
        topic, data = call.args[0], call.args[1]
        if topic == TOPIC:
            header, jpeg = protocol.split_selftest(data)
            found.append((header["id"], jpeg))
    return found


def person_in(jpeg: bytes) -> tuple[float, float, float, float]:
    """Where the person is: the pixels unlike the flat background (its median colour)."""
    pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), np.int16)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    unlike = np.abs(pixels - background).sum(axis=2) > 60
    rows = np.flatnonzero(unlike.sum(axis=1) > 3)
    cols = np.flatnonzero(unlike.sum(axis=0) > 3)
    height, width = unlike.shape
    return (cols[0] / width, rows[0] / height, (cols[-1] + 1) / width, (rows[-1] + 1) / height)


def _answer(hass: HomeAssistant, request_id: str, **fields: Any) -> None:
    fire(hass, RESULT, {"v": 1, "id": request_id, "ok": True, **fields})


def _right(hass: HomeAssistant, request: tuple[str, bytes]) -> None:
    box = [round(v, 4) for v in person_in(request[1])]
    _answer(hass, request[0], boxes=[{"score": 0.9, "box": box}], person_count=1)


@pytest.fixture(autouse=True)
async def detector(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A detector that takes self-tests, announced with time frozen (so the tests' timers are).

    Later reports come live, not retained, as the broker forwards them to a subscriber
    (HA's MQTT client delivers a topic's retained message to a subscription only once)."""
    _announce(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_detector_is_tested_at_once_then_every_interval_with_a_new_picture(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
) -> None:
    hub = init_integration.runtime_data
    agent = hub.agents["detector_pi4"]
    requests = _requests(mqtt_mock)
    assert len(requests) == 1  # at once when it came online
    assert not hub.selftests.verified(agent)  # not proven before its answer
    _right(hass, requests[0])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).state == "off"
    assert hub.selftests.verified(agent)
    await _tick(hass, freezer, DEFAULT_SELFTEST_INTERVAL - 1)
    assert len(_requests(mqtt_mock)) == 1
    await _tick(hass, freezer, 1)
    requests = _requests(mqtt_mock)
    assert len(requests) == 2
    # A new picture and request id each time, the person elsewhere: the last answer cannot pass.
    assert requests[0][0] != requests[1][0]
    assert requests[0][1] != requests[1][1]
    assert testpicture.iou(person_in(requests[0][1]), person_in(requests[1][1])) < 0.5
    call = next(c for c in mqtt_mock.async_publish.call_args_list if c.args[0] == TOPIC)
    assert call.args[2:] == (1, False)  # QoS 1, not retained
    assert hub.selftests.sent == 2
    # No answer to the second: blind, and no longer verified.
    await _tick(hass, freezer, 11)
    assert not hub.selftests.verified(agent)
    assert hass.states.get(PROBLEM).attributes["problems"] == ["blind"]


@pytest.mark.parametrize(
    ("answer", "cause", "figures"),
    [
        ({"boxes": [], "person_count": 0}, "no_person", {"threshold": "0.5", "min_area": "0.005"}),
        ({"ok": False, "error": "corrupt JPEG: cut off"}, "failed", {"detail": "corrupt JPEG: cut off"}),
    ],
)
async def test_a_wrong_answer_makes_the_detector_blind_until_a_test_passes(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
    answer: dict[str, Any],
    cause: str,
    figures: dict[str, str],
) -> None:
    events = async_capture_events(hass, EVENT_AGENT_PROBLEM)
    request_id, _ = _requests(mqtt_mock)[0]
    _answer(hass, request_id, **answer)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = hass.states.get(PROBLEM)
    assert state.state == "on"
    assert state.attributes["problems"] == ["blind"]
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE)
    hub = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    assert not hub.selftests.verified(hub.agents["detector_pi4"])
    assert issue.translation_key == f"blind_{cause}"
    assert figures.items() <= issue.translation_placeholders.items()
    assert issue.translation_placeholders["selftest_topic"] == TOPIC
    assert issue.translation_placeholders["interval"] == f"{DEFAULT_SELFTEST_INTERVAL:g}"
    assert [(e.data["problem"], e.data["active"]) for e in events] == [("blind", True)]
    # The next test passes: all clear.
    await _tick(hass, freezer, DEFAULT_SELFTEST_INTERVAL)
    _right(hass, _requests(mqtt_mock)[-1])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).state == "off"
    assert issue_registry.async_get_issue(DOMAIN, ISSUE) is None
    assert hub.selftests.verified(hub.agents["detector_pi4"])
    # Switched off, it is not verified any more (it does not watch).
    fire(hass, "bobby/detector/pi4/state", {**payload("detector_pi4", "state"), "enabled": False})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not hub.selftests.verified(hub.agents["detector_pi4"])
    assert [(e.data["problem"], e.data["active"]) for e in events] == [("blind", True), ("blind", False)]


async def test_a_person_at_the_wrong_place_is_blind_with_the_figures(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, issue_registry: ir.IssueRegistry
) -> None:
    request_id, jpeg = _requests(mqtt_mock)[0]
    xmin, ymin, xmax, ymax = person_in(jpeg)
    # The person's box moved sideways by most of its width: an answer remembered from
    # another picture, or a model that reads its output wrongly.
    shift = (xmax - xmin) * 0.8 * (1 if xmin < 0.5 else -1)
    wrong = [round(min(1.0, max(0.0, v)), 4) for v in (xmin + shift, ymin, xmax + shift, ymax)]
    _answer(hass, request_id, boxes=[{"score": 0.8, "box": wrong}])
    await hass.async_block_till_done(wait_background_tasks=True)
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE)
    assert issue.translation_key == "blind_wrong_place"
    placeholders = issue.translation_placeholders
    assert float(placeholders["iou"]) < 0.5
    assert placeholders["score"] == "0.80"
    assert placeholders["found"] == "[" + ", ".join(f"{v:.2f}" for v in wrong) + "]"
    assert placeholders["min_iou"] == "0.5"


async def test_a_whole_frame_box_does_not_pass(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, issue_registry: ir.IssueRegistry
) -> None:
    """A detector that always answers "a person everywhere" is blind too (the person fills ≤ 44 %)."""
    request_id, _ = _requests(mqtt_mock)[0]
    _answer(hass, request_id, boxes=[{"score": 0.99, "box": [0.0, 0.0, 1.0, 1.0]}])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE).translation_key == "blind_wrong_place"


async def test_no_answer_within_the_timeout_is_blind_and_the_cause_follows_the_last_test(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    request_id, _ = _requests(mqtt_mock)[0]
    await _tick(hass, freezer, 8)
    assert hass.states.get(PROBLEM).attributes["problems"] == []
    await _tick(hass, freezer, 3)  # the command timeout (10 s) passed
    assert hass.states.get(PROBLEM).state == "on"
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE)
    assert issue.translation_key == "blind_no_answer"
    assert issue.translation_placeholders["answer_timeout"] == "10"
    # A late answer to the old test changes nothing.
    _right(hass, (request_id, _requests(mqtt_mock)[0][1]))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).state == "on"
    # The next test answers, wrongly: still blind, the repair now says why.
    await _tick(hass, freezer, DEFAULT_SELFTEST_INTERVAL)
    _answer(hass, _requests(mqtt_mock)[-1][0], boxes=[])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE).translation_key == "blind_no_person"
    assert hass.states.get(PROBLEM).attributes["problems"] == ["blind"]


async def test_answers_to_no_test_in_flight_are_ignored(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """A forged or stray result: another id, a test already judged, a detector never seen."""
    hub = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    request = _requests(mqtt_mock)[0]
    _answer(hass, "someone-else", boxes=[])
    fire(hass, "bobby/detector/ghost/selftest_result", {"v": 1, "id": "x", "ok": True, "boxes": []})
    fire(hass, RESULT, "not json")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).state == "off"
    assert "detector_ghost" not in hub.agents
    _right(hass, request)
    _answer(hass, request[0], boxes=[])  # a second answer to a judged test
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).state == "off"


async def test_a_switched_off_detector_is_not_tested_nor_blind_and_is_tested_when_back_on(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    _answer(hass, _requests(mqtt_mock)[0][0], boxes=[])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).state == "on"
    off = {**payload("detector_pi4", "state"), "enabled": False}
    fire(hass, "bobby/detector/pi4/state", off)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).attributes["problems"] == []
    assert issue_registry.async_get_issue(DOMAIN, ISSUE) is None
    await _tick(hass, freezer, 3 * DEFAULT_SELFTEST_INTERVAL)
    assert len(_requests(mqtt_mock)) == 1
    fire(hass, "bobby/detector/pi4/state", payload("detector_pi4", "state"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(_requests(mqtt_mock)) == 2  # at once when back on


async def test_an_offline_detector_stays_blind_until_it_passes_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    _answer(hass, _requests(mqtt_mock)[0][0], boxes=[])
    await hass.async_block_till_done(wait_background_tasks=True)
    fire(hass, "bobby/detector/pi4/status", "offline")
    await _tick(hass, freezer, 3 * DEFAULT_SELFTEST_INTERVAL)
    assert len(_requests(mqtt_mock)) == 1  # not tested while offline
    assert hass.states.get(PROBLEM).attributes["problems"] == ["offline"]
    fire(hass, "bobby/detector/pi4/status", "online")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).attributes["problems"] == ["blind"]  # until it passes
    _right(hass, _requests(mqtt_mock)[-1])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).state == "off"


async def test_an_older_detector_without_the_capability_is_never_tested(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, mqtt_mock: MqttMockHAClient
) -> None:
    _answer(hass, _requests(mqtt_mock)[0][0], boxes=[])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).state == "on"
    # Replaced by a version that does not take self-tests: not watched by them, not blind.
    fire(hass, "bobby/detector/pi4/info", payload("detector_pi4", "info"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PROBLEM).attributes["problems"] == []
    await _tick(hass, freezer, 3 * DEFAULT_SELFTEST_INTERVAL)
    assert len(_requests(mqtt_mock)) == 1


async def test_a_test_in_flight_when_switched_off_is_not_judged(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, mqtt_mock: MqttMockHAClient
) -> None:
    off = {**payload("detector_pi4", "state"), "enabled": False}
    fire(hass, "bobby/detector/pi4/state", off)
    await _tick(hass, freezer, 30)  # past the answer timeout
    assert hass.states.get(PROBLEM).attributes["problems"] == []


async def test_a_detector_switched_off_while_its_picture_is_made_gets_none(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The picture is made in the executor; the detector is switched off meanwhile."""
    made = threading.Event()
    real_make = testpicture.make

    def slow_make(*args: Any) -> testpicture.TestPicture:
        made.wait(10)
        return real_make(*args)

    info = {**INFO, "id": "pi5", "name": "pi5"}
    with patch.object(testpicture, "make", slow_make):
        fire(hass, "bobby/detector/pi5/status", "online")
        fire(hass, "bobby/detector/pi5/info", info)
        fire(hass, "bobby/detector/pi5/state", payload("detector_pi4", "state"))
        await settle()
        fire(hass, "bobby/detector/pi5/state", {**payload("detector_pi4", "state"), "enabled": False})
        await settle()
        made.set()
        await hass.async_block_till_done(wait_background_tasks=True)
    hub = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    assert hub.agents["detector_pi5"].enabled is False
    assert not [
        c for c in mqtt_mock.async_publish.call_args_list if c.args[0] == "bobby/detector/pi5/selftest"
    ]


async def test_removing_the_detector_stops_its_tests(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
) -> None:
    hub = init_integration.runtime_data
    await hub.async_forget(hub.agents["detector_pi4"])
    await _tick(hass, freezer, 3 * DEFAULT_SELFTEST_INTERVAL)
    assert len(_requests(mqtt_mock)) == 1


async def test_many_blind_detectors_fold_into_one_issue_and_unfold_with_their_cause(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """From three blind detectors on, one summary; back under three, each its own `blind_<cause>`."""
    ids = ("pi4", "pi5", "nuc")
    for other in ids[1:]:
        info = {**INFO, "id": other, "name": other}
        fire(hass, f"bobby/detector/{other}/status", "online")
        fire(hass, f"bobby/detector/{other}/info", info)
        fire(hass, f"bobby/detector/{other}/state", payload("detector_pi4", "state"))
    await hass.async_block_till_done(wait_background_tasks=True)
    requests = {}
    for call in mqtt_mock.async_publish.call_args_list:
        topic = call.args[0]
        if topic.endswith("/selftest"):
            requests[topic.split("/")[2]] = protocol.split_selftest(call.args[1])
    assert set(requests) == set(ids)
    for agent_id, (header, _) in requests.items():
        fire(
            hass,
            f"bobby/detector/{agent_id}/selftest_result",
            {"v": 1, "id": header["id"], "ok": True, "boxes": []},
        )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_registry.async_get_issue(DOMAIN, "many_blind") is not None
    assert issue_registry.async_get_issue(DOMAIN, ISSUE) is None
    hub = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    await hub.async_forget(hub.agents["detector_nuc"])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_registry.async_get_issue(DOMAIN, "many_blind") is None
    assert issue_registry.async_get_issue(DOMAIN, ISSUE).translation_key == "blind_no_person"


def test_the_test_picture_is_small_and_public_domain() -> None:
    """HACS copies only custom_components/bobby_camera: the person must be inside it."""
    assert testpicture.PERSON.is_relative_to(testpicture.Path(testpicture.__file__).parent)
    assert testpicture.PERSON.stat().st_size < 10_000
    assert "public" in (testpicture.__doc__ or "")


def test_the_person_is_never_where_the_last_test_put_her() -> None:
    import random

    rng = random.Random(1)
    previous = None
    for _ in range(200):
        picture = testpicture.make(rng, previous)
        assert picture.jpeg.startswith(b"\xff\xd8")
        if previous is not None:
            assert testpicture.iou(picture.person, previous) < testpicture.MAX_IOU_WITH_PREVIOUS
        assert testpicture.iou(person_in(picture.jpeg), picture.person) > 0.8
        previous = picture.person
    # Nowhere far enough from a box as big as the frame: the least overlapping of the tries.
    assert testpicture.make(rng, (0.0, 0.0, 1.0, 1.0)).jpeg.startswith(b"\xff\xd8")


def test_json_of_a_result_is_what_the_protocol_checks() -> None:
    """The result topic parses through the one contract (docs/protocol.md, selftest_result)."""
    raw = json.dumps({"v": 1, "id": "a1", "ok": True, "boxes": [], "person_count": 0})
    topic, data = protocol.parse_message(RESULT, raw)
    assert topic.channel == "selftest_result"
    assert data == {"v": 1, "id": "a1", "ok": True, "boxes": [], "person_count": 0}
