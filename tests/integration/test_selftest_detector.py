"""The self-test end to end: Home Assistant, a real Mosquitto and the real detector with the
real model (`bobby-edge detector`, this checkout's). A detector that sees passes; one
that finds nobody (threshold 0.99) or does not answer is *blind* in Home Assistant, with a
repair that says why; fixing it clears the problem at the next test.

The tests run the self-test every 3 s instead of every 60 s, so recovery shows quickly.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.bobby_camera import protocol
from custom_components.bobby_camera.const import DOMAIN
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.processes import start_agent, stop_all

from .recording_helpers import until
from .test_selftest import person_in

INTERVAL = 3.0


@pytest.fixture
def options() -> dict[str, Any]:
    """A self-test every 3 s (below what the options form allows, for the test's sake)."""
    return {"selftest_interval": INTERVAL}


@pytest.fixture
def detector(broker: Mosquitto, tmp_path: Path) -> Generator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `bobby-edge detector --id <id>` with the default model."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(agent_id: str, *args: str) -> subprocess.Popen[bytes]:
        process = start_agent(
            "detector",
            broker.url,
            tmp_path / f"{agent_id}.log",
            *("--id", agent_id, "--threads", "1", "--stats-interval", "1"),
            *("--state-dir", str(tmp_path / "state"), *args),
        )
        processes.append(process)
        return process

    yield start
    stop_all(processes)


def _issue(issue_registry: ir.IssueRegistry, agent_id: str) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, f"detector_{agent_id}_blind")


async def test_a_detector_that_sees_passes_and_one_at_threshold_099_is_blind_until_fixed(
    hass: HomeAssistant,
    hub_entry: MockConfigEntry,
    detector: Callable[..., subprocess.Popen[bytes]],
    issue_registry: ir.IssueRegistry,
) -> None:
    hub = hub_entry.runtime_data
    detector("sees")
    detector("typo", "--threshold", "0.99")
    await until(lambda: hub.agents.get("detector_sees"), "the detectors announce themselves", 60)
    sees = hub.agents["detector_sees"]
    await until(lambda: (sees.stats or {}).get("selftests", 0) >= 2, "two self-tests answered", 60)
    assert sees.health.blind is None
    assert "blind" not in sees.problems
    assert sees.stats["frames_analysed"] == 0  # the self-tests are no frames
    assert _issue(issue_registry, "sees") is None

    typo = hub.agents["detector_typo"]
    issue = await until(lambda: _issue(issue_registry, "typo"), "the 0.99 detector is blind", 60)
    assert issue.translation_key == "blind_no_person"
    assert issue.translation_placeholders["threshold"] == "0.99"
    assert "blind" in typo.problems
    assert hass.states.get("binary_sensor.typo_problem").state == "on"

    # The owner fixes the threshold in Home Assistant: the next test passes, all clear.
    await hub.control.async_command(typo, threshold=0.5)
    await until(lambda: _issue(issue_registry, "typo") is None, "the repair clears", 60)
    assert hass.states.get("binary_sensor.typo_problem").state == "off"


class SilentDetector:
    """A detector that announces it takes self-tests, sends its heartbeat, and answers
    them only when told to (a stuck analysis, then a repaired one)."""

    def __init__(self, port: int, agent_id: str = "mute") -> None:
        self.base = f"bobby/detector/{agent_id}"
        self.answering = False
        self.probe = Probe(port)
        self.probe.subscribe(f"{self.base}/selftest")
        self._stop = threading.Event()
        info: dict[str, Any] = {
            "kind": "detector",
            "id": agent_id,
            "version": "0.1.0",
            "capabilities": ["threshold", "selftest"],
            "stats_interval": 1,
        }
        self.probe.publish(f"{self.base}/status", "online", retain=True)
        self.probe.publish(f"{self.base}/info", protocol.encode(info), retain=True)
        self.probe.publish(f"{self.base}/state", protocol.encode({"enabled": True}), retain=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        answered = 0
        while not self._stop.wait(0.2):
            self.probe.publish(f"{self.base}/stats", protocol.encode({"uptime": 1.0, "fps": 0.0}), qos=0)
            requests = [m for m in self.probe.messages if m.topic == f"{self.base}/selftest"]
            if self.answering and len(requests) > answered:
                header, jpeg = protocol.split_selftest(requests[-1].payload)
                box = [round(v, 4) for v in person_in(jpeg)]
                result = {"id": header["id"], "ok": True, "boxes": [{"score": 0.9, "box": box}]}
                self.probe.publish(f"{self.base}/selftest_result", protocol.encode(result))
                answered = len(requests)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.probe.close()


async def test_a_detector_that_does_not_answer_is_blind_until_it_answers(
    hass: HomeAssistant, hub_entry: MockConfigEntry, broker: Mosquitto, issue_registry: ir.IssueRegistry
) -> None:
    mute = await hass.async_add_executor_job(SilentDetector, broker.port)
    try:
        issue = await until(lambda: _issue(issue_registry, "mute"), "the mute detector is blind", 60)
        assert issue.translation_key == "blind_no_answer"
        assert issue.translation_placeholders["selftest_topic"] == "bobby/detector/mute/selftest"
        agent = hub_entry.runtime_data.agents["detector_mute"]
        assert agent.problems == ("blind",)  # online and sending its heartbeat: only blind
        mute.answering = True
        await until(lambda: _issue(issue_registry, "mute") is None, "the repair clears", 60)
        assert agent.problems == ()
    finally:
        await hass.async_add_executor_job(mute.close)
        await asyncio.sleep(0)
