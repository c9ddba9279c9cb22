"""The detector self-test: proof that each detector still sees (docs/protocol.md, "selftest").

While a detector that lists the `selftest` capability is online and enabled (and Home
Assistant is on the broker), `SelfTests` sends it a new picture of a known person
(`testpicture.py`) at once, then every `selftest_interval` seconds (an option), and checks its
`selftest_result`: a box must overlap the person with an IoU of at least SELFTEST_MIN_IOU.
No answer within the command timeout, no person, a person elsewhere, or a picture the
detector could not analyse makes the `blind` problem (`monitoring.AgentHealth.blind`,
shown by `problems.ProblemReporter` as a `blind_<cause>` repair with the figures); the next
passing test clears it. A detector switched off or offline is not tested, and not blind.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from uuid import uuid4

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from . import protocol, testpicture
from .agent import Agent
from .const import (
    BLIND_FAILED,
    BLIND_NO_ANSWER,
    BLIND_NO_PERSON,
    BLIND_WRONG_PLACE,
    LOGGER,
    PROBLEM_BLIND,
    SELFTEST_MIN_IOU,
)
from .monitoring import SelfTestFailure
from .problems import ProblemReporter
from .signals import Signals

type Background = Callable[[Coroutine[Any, Any, None], str], None]


def _box(box: testpicture.Coords | list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in box) + "]"


def judge(person: testpicture.Coords, result: protocol.SelfTestResult) -> SelfTestFailure | None:
    """None when the answer finds the person where the picture has her; else why not."""
    expected = {"expected": _box(person), "min_iou": f"{SELFTEST_MIN_IOU:g}"}
    if not result["ok"]:
        return SelfTestFailure(BLIND_FAILED, {**expected, "detail": result.get("error", "")})
    boxes = result.get("boxes", [])
    if not boxes:
        return SelfTestFailure(BLIND_NO_PERSON, expected)
    overlaps = [(testpicture.iou(person, tuple(b["box"])), b) for b in boxes]  # type: ignore[arg-type]
    best_iou, best = max(overlaps, key=lambda pair: pair[0])
    if best_iou >= SELFTEST_MIN_IOU:
        return None
    return SelfTestFailure(
        BLIND_WRONG_PLACE,
        {**expected, "found": _box(best["box"]), "iou": f"{best_iou:.2f}", "score": f"{best['score']:.2f}"},
    )


@dataclass(slots=True)
class _Test:
    """The self-test in flight for one detector."""

    request_id: str
    cancel_timeout: CALLBACK_TYPE = lambda: None  # the answer timeout's, once set
    person: testpicture.Coords = (0.0, 0.0, 0.0, 0.0)  # once the picture is made


class SelfTests:
    """Schedules, sends and checks the self-tests of the detectors of one hub."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        base_topic: str,
        timeout: float,
        interval: float,
        problems: ProblemReporter,
        signals: Signals,
        background: Background,
    ) -> None:
        """`timeout`: how long an answer may take; `interval`: seconds between tests."""
        self.hass = hass
        self.base_topic = base_topic
        self.timeout = timeout
        self.interval = interval
        self._problems = problems
        self._signals = signals
        self._background = background
        self._rng = random.Random()
        self._running: dict[str, _Test] = {}  # per agent key
        self._next: dict[str, CALLBACK_TYPE] = {}  # the timer of the next test, per agent key
        self._previous: dict[str, testpicture.Coords] = {}  # where the last test's person was
        self._passed: set[str] = set()  # agent keys whose last test, while testable, passed
        self.sent = 0  # self-tests sent since start

    def verified(self, agent: Agent) -> bool:
        """Whether the detector passed its last self-test and is still testable: it sees now.

        False before its first answer (a detector that just came online is not proven yet).
        """
        return agent.key in self._passed

    @staticmethod
    def capable(agent: Agent) -> bool:
        """A detector that announces it answers self-tests (older ones do not: never tested)."""
        return (
            not agent.is_camera
            and agent.info is not None
            and protocol.SELFTEST_CAPABILITY in agent.info.get("capabilities", [])
        )

    @classmethod
    def testable(cls, agent: Agent) -> bool:
        """A capable detector, online and enabled, heard from (Home Assistant not cut off)."""
        return (
            cls.capable(agent)
            and agent.online
            and agent.enabled is True
            and not agent.health.cut_off
            and not agent.health.suspended
        )

    # --- what the hub tells ---------------------------------------------------------------

    @callback
    def follow(self, agent: Agent) -> None:
        """Start testing a detector that became testable (at once), or stop one that is not."""
        if not self.testable(agent):
            self._stop(agent)
            # Switched off (or no longer taking tests) it is not watching, so not blind. An
            # offline one stays blind (hidden while offline) until it passes a test again.
            if agent.health.blind is not None and (agent.enabled is False or not self.capable(agent)):
                self._done(agent, None)
            return
        if agent.key not in self._running and agent.key not in self._next:
            self._due(agent)  # at once

    @callback
    def on_result(self, agent: Agent, result: protocol.SelfTestResult) -> None:
        """A detector's `selftest_result`: only the answer to the test in flight counts."""
        test = self._running.get(agent.key)
        if test is None or result["id"] != test.request_id:
            LOGGER.debug("Self-test result from %s answers no test in flight", agent.key)
            return
        del self._running[agent.key]
        test.cancel_timeout()
        failure = judge(test.person, result)
        was_verified = agent.key in self._passed
        if failure is None:
            self._passed.add(agent.key)
        else:
            self._passed.discard(agent.key)
            LOGGER.info("%s failed its self-test: %s %s", agent.key, failure.cause, failure.figures)
        # A first pass proves the detector (the alarm panel waits for it) without any problem changing.
        self._done(agent, failure, proven=not was_verified and failure is None)
        self._schedule(agent, self.interval)

    @callback
    def async_forget(self, agent: Agent) -> None:
        """Stop testing an agent the owner removed."""
        self._stop(agent)
        self._previous.pop(agent.key, None)

    @callback
    def async_stop(self) -> None:
        """Cancel every timer (the hub stops)."""
        for key in list({*self._running, *self._next}):
            self._cancel(key)

    # --- running the tests ----------------------------------------------------------------

    def _schedule(self, agent: Agent, delay: float) -> None:
        self._next[agent.key] = async_call_later(self.hass, delay, partial(self._due, agent))

    @callback
    def _due(self, agent: Agent, _now: datetime | None = None) -> None:
        # Testable still: follow() cancels this timer when the detector stops being so.
        self._next.pop(agent.key, None)
        test = self._running[agent.key] = _Test(uuid4().hex[:16])
        test.cancel_timeout = async_call_later(self.hass, self.timeout, partial(self._timed_out, agent, test))
        self._background(self._async_send(agent, test), f"self-test {agent.key}")

    async def _async_send(self, agent: Agent, test: _Test) -> None:
        picture = await self.hass.async_add_executor_job(
            testpicture.make, self._rng, self._previous.get(agent.key)
        )
        if self._running.get(agent.key) is not test:
            return  # stopped while the picture was made
        test.person = self._previous[agent.key] = picture.person
        self.sent += 1
        await mqtt.async_publish(
            self.hass,
            protocol.build_topic(self.base_topic, agent.kind, agent.agent_id, protocol.SELFTEST_CHANNEL),
            protocol.encode_selftest(test.request_id, picture.jpeg),
            qos=protocol.QOS[protocol.SELFTEST_CHANNEL],
            retain=False,
        )

    @callback
    def _timed_out(self, agent: Agent, test: _Test, _now: datetime) -> None:
        # Still the test in flight, to a testable detector: an answer, or follow() when
        # the detector (or Home Assistant's broker connection) goes, cancels this timer.
        del self._running[agent.key]
        self._passed.discard(agent.key)
        LOGGER.info("%s did not answer its self-test within %g s", agent.key, self.timeout)
        self._done(agent, SelfTestFailure(BLIND_NO_ANSWER, {"expected": _box(test.person)}))
        self._schedule(agent, self.interval)

    def _done(self, agent: Agent, failure: SelfTestFailure | None, *, proven: bool = False) -> None:
        """Record the outcome; show what changed (a new cause or new figures update the repair)."""
        before = agent.health.blind
        if failure is not None:
            topic = protocol.build_topic(
                self.base_topic, agent.kind, agent.agent_id, protocol.SELFTEST_CHANNEL
            )
            failure = SelfTestFailure(
                failure.cause,
                {
                    **failure.figures,
                    "selftest_topic": topic,
                    "interval": f"{self.interval:g}",
                    "answer_timeout": f"{self.timeout:g}",
                    "threshold": str(agent.state.get("threshold", "?") if agent.state else "?"),
                    "min_area": str(agent.state.get("min_area", "?") if agent.state else "?"),
                },
            )
        agent.health.selftest_done(failure)
        self._problems.async_report(agent)
        if failure is not None and before is not None and failure != before:
            self._problems.async_update_issue(agent, PROBLEM_BLIND)
        if before != failure or proven:
            self._signals.refresh(agent)

    def _stop(self, agent: Agent) -> None:
        self._cancel(agent.key)

    def _cancel(self, key: str) -> None:
        self._passed.discard(key)
        if (cancel := self._next.pop(key, None)) is not None:
            cancel()
        if (test := self._running.pop(key, None)) is not None:
            test.cancel_timeout()
