"""Fixtures for the bench-only Home Assistant measurement (not part of the test suite)."""

from __future__ import annotations

import asyncio

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/."""


@pytest.fixture(autouse=True)
def enable_event_loop_debug(event_loop: asyncio.AbstractEventLoop) -> None:
    """A real Home Assistant runs its loop without asyncio debug mode: so does the bench."""
    event_loop.set_debug(False)


@pytest.fixture
def expected_lingering_timers() -> bool:
    """HA's MQTT client leaves a periodic timer behind."""
    return True
