"""Processes a test started, stopped at its end."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable


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
