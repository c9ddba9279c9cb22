"""Processes a test started, stopped at its end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

EDGE_AGENTS = Path(__file__).resolve().parents[2] / "edge_agents"


def start_agent(kind: str, broker_url: str, log_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """`bobby-edge KIND --broker URL ARGS...` from this checkout, its output appended to `log_path`
    (the process runs in the log's folder)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EDGE_AGENTS), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "bobby_edge", kind, "--broker", broker_url, *args]
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=log_path.parent)


def stop_all(processes: Iterable[subprocess.Popen[bytes]], grace: float = 15) -> None:
    """SIGTERM each one still running (agents publish `offline` and close their files),
    SIGKILL the ones that do not stop within `grace` seconds."""
    running = [p for p in processes if p.poll() is None]
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
