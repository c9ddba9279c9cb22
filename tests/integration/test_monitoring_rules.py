"""Monitoring decisions on their own: facts and a hand-driven clock in, problem reports out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custom_components.bobby_camera.agent import Agent
from custom_components.bobby_camera.monitoring import AgentHealth, ProblemReport
from custom_components.bobby_camera.problems import issue_placeholders

from .common import START, Clock


@pytest.fixture
def auto_enable_custom_integrations() -> None:
    """Pure code: no Home Assistant instance needed."""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health(clock: Clock) -> AgentHealth:
    """An agent that announced a 5 s heartbeat and is online; its first report taken."""
    health = AgentHealth(clock)
    health.status_received("online")
    health.info_received(5.0)
    assert health.take_report() is None  # online and healthy: nothing to say
    return health


def test_nothing_known_is_no_problem(clock: Clock) -> None:
    health = AgentHealth(clock)
    assert health.connected is None
    assert health.problems == ()
    assert health.silent_at() is None
    assert health.take_report() is None


def test_offline_is_reported_once_then_recovers(health: AgentHealth) -> None:
    health.status_received("offline")
    assert health.connected is False
    assert health.take_report() == ProblemReport(problems=("offline",), raised=("offline",), cleared=())
    assert health.take_report() is None
    health.status_received("online")
    report = health.take_report()
    assert report == ProblemReport(problems=(), raised=(), cleared=("offline",))
    assert report.event_type == "recovered"


def test_silent_after_three_missed_heartbeats(health: AgentHealth, clock: Clock) -> None:
    assert health.silent_at() == START + timedelta(seconds=15)
    clock.tick(10)
    health.stats_received()  # the heartbeat moves the deadline
    assert health.silent_at() == START + timedelta(seconds=25)
    clock.tick(14.9)
    health.check()
    assert not health.silent
    clock.tick(0.1)
    health.check()
    assert health.silent
    assert health.connected is False
    assert health.silent_at() is None  # nothing more to watch until it speaks
    report = health.take_report()
    assert report is not None
    assert (report.raised, report.event_type) == (("silent",), "silent")
    health.stats_received()
    assert health.take_report() == ProblemReport(problems=(), raised=(), cleared=("silent",))


def test_an_offline_agent_is_not_also_silent(health: AgentHealth, clock: Clock) -> None:
    health.status_received("offline")
    assert health.silent_at() is None
    clock.tick(3600)
    health.check()
    assert health.problems == ("offline",)


def test_a_restarted_agent_forgets_old_failures(health: AgentHealth) -> None:
    health.command_timed_out("enabled=False")
    health.status_received("offline")
    assert health.problems == ("offline", "command_timeout")
    health.status_received("online")
    assert health.problems == ()


def test_online_again_while_online_keeps_failures(health: AgentHealth) -> None:
    """A re-delivered retained `online` is no restart."""
    health.command_timed_out("enabled=False")
    health.status_received("online")
    assert health.problems == ("command_timeout",)


def test_command_timeout_until_answered(health: AgentHealth) -> None:
    health.command_timed_out("enabled=False")
    report = health.take_report()
    assert report is not None
    assert report.raised == ("command_timeout",)
    assert health.failed_command == "enabled=False"
    health.command_answered()
    assert health.take_report() == ProblemReport(problems=(), raised=(), cleared=("command_timeout",))


def test_problems_keep_their_order_and_event_type_is_the_first(health: AgentHealth) -> None:
    health.command_timed_out("enabled=True")
    health.take_report()
    health.status_received("offline")
    report = health.take_report()
    assert report is not None
    assert report.problems == ("offline", "command_timeout")
    assert report.raised == ("offline",)
    assert report.event_type == "offline"


def test_heartbeat_watch_starts_with_info_when_status_came_first(clock: Clock) -> None:
    health = AgentHealth(clock)
    health.status_received("online")
    # No interval known yet: still watched, with a bounded default (issue 11).
    assert health.silent_at() == START + timedelta(seconds=180)
    clock.tick(2)
    health.info_received(1.0)
    assert health.silent_at() == START + timedelta(seconds=3)  # from the status


def test_issue_placeholders(clock: Clock) -> None:
    agent = Agent.create("detector", "pi4", threshold=0.5, trigger_after=0, clear_after=30, clock=clock)
    agent.info = {"name": "Pi 4 detector"}
    agent.health.info_received(5.0)
    agent.health.command_timed_out("enabled=False")
    assert issue_placeholders(agent, "home/bobby", 10.0) == {
        "name": "Pi 4 detector",
        "kind": "detector",
        "agent_id": "pi4",
        "topic": "home/bobby/detector/pi4/status",
        "missed_after": "15",
        "command": "enabled=False",
        "timeout": "10",
        "desired": "",
        "reported": "",
        "resent": "0",
    }


# --- issue 11: grace period, desired state, problems the agent reports ------------------


def test_offline_becomes_a_problem_after_the_grace_period(clock: Clock) -> None:
    health = AgentHealth(clock, offline_grace=30)
    health.status_received("online")
    health.info_received(5.0)
    health.take_report()
    health.status_received("offline")
    assert health.connected is False  # the connectivity sensor changes at once
    assert health.problems == ()
    assert health.take_report() is None
    assert health.next_check_at() == START + timedelta(seconds=30)
    clock.tick(29.9)
    health.check()
    assert health.problems == ()
    clock.tick(0.1)
    health.check()
    assert health.take_report() == ProblemReport(problems=("offline",), raised=("offline",), cleared=())


def test_a_blip_shorter_than_the_grace_period_is_no_problem(clock: Clock) -> None:
    health = AgentHealth(clock, offline_grace=30)
    health.status_received("online")
    health.status_received("offline")
    clock.tick(10)
    health.status_received("online")
    clock.tick(30)
    health.check()
    assert "offline" not in health.problems
    assert health.take_report() is None


def test_a_lasting_state_mismatch_is_a_problem(clock: Clock) -> None:
    health = AgentHealth(clock, mismatch_after=10)
    health.status_received("online")
    health.state_compared({"enabled": False})
    assert health.problems == ()
    assert health.next_check_at() == START + timedelta(seconds=10)
    clock.tick(10)
    health.check()
    assert health.problems == ("state_mismatch",)
    health.state_compared({})
    assert health.problems == ()


def test_problems_the_agent_reports_last_while_listed(clock: Clock) -> None:
    health = AgentHealth(clock)
    health.status_received("online")
    refused = {"code": "not_authorised_publish_detection", "count": 3, "detail": "no write access"}
    health.stats_received([refused])
    report = health.take_report()
    assert report is not None
    assert report.raised == ("not_authorised_publish_detection",)
    assert report.event_type == "reported"
    health.stats_received([])
    report = health.take_report()
    assert report is not None
    assert report.cleared == ("not_authorised_publish_detection",)


def test_an_unanswered_command_is_not_also_a_mismatch(clock: Clock) -> None:
    health = AgentHealth(clock, mismatch_after=10)
    health.status_received("online")
    health.state_compared({"enabled": False})
    clock.tick(10)
    health.command_timed_out("enabled=False")
    health.check()
    assert health.problems == ("command_timeout",)
    health.command_answered()  # a late ack, yet the state still differs
    assert health.problems == ("state_mismatch",)
