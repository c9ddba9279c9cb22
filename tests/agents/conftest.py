"""Fixtures for the agents' tests: a real Mosquitto per test and a probe client on it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def agent_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Agents started as processes keep their state in the test's folder, never in ~."""
    folder = tmp_path / "agent-state"
    monkeypatch.setenv("BOBBY_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "broker").start()
    yield server
    server.stop()


@pytest.fixture
def probe(broker: Mosquitto) -> Iterator[Probe]:
    client = Probe(broker.port)
    yield client
    client.close()


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start `bobby-edge ...` as real processes; all are killed at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def spawn_agent(started: list[subprocess.Popen[bytes]], *args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "edge_agents"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bobby_edge", *args],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    started.append(proc)
    return proc
