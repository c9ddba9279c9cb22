"""Desired state on its own: what the owner set, and where the agent's report differs."""

from __future__ import annotations

import pytest

from custom_components.bobby_camera.desired import DesiredState


@pytest.fixture
def auto_enable_custom_integrations() -> None:
    """Pure code: no Home Assistant instance needed."""


def test_nothing_set_asks_nothing() -> None:
    desired = DesiredState()
    assert desired.command_fields() == {}
    assert desired.differences(None) == {}
    assert desired.differences({"enabled": False}) == {}


def test_settings_are_recorded_actions_are_not() -> None:
    desired = DesiredState()
    desired.update({"enabled": False})
    desired.update({"action": "preview"})
    desired.update({"fps": 2.0})
    assert desired.command_fields() == {"enabled": False, "fps": 2.0}


def test_differences_from_the_reported_state() -> None:
    desired = DesiredState(enabled=False, fps=2.0)
    assert desired.differences(None) == {"enabled": False, "fps": 2.0}  # nothing reported yet
    assert desired.differences({"v": 1, "enabled": True, "fps": 2.0}) == {"enabled": False}
    assert desired.differences({"v": 1, "enabled": False, "fps": 2.0}) == {}
    assert desired.differences({"v": 1, "enabled": False}) == {"fps": 2.0}
