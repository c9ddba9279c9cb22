"""Child processes with their output in a log file, stopped politely (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_LOGGER = logging.getLogger(__name__)


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """`preferred` if nothing listens there, else a free port the kernel picks."""
    if preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, preferred))
                return preferred
            except OSError:
                _LOGGER.info("port %s is taken, picking a free one", preferred)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> object:
    """Poll `condition` until it returns something truthy; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except Exception as err:  # reported in the timeout message
            last_error = err
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"{what}: not within {timeout:.0f}s{detail}")
        time.sleep(interval)


class ManagedProcess:
    """One child process; stdout and stderr go to `log_path` (appended, so restarts keep history)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.killed = False  # exited because we killed it: not a failure

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.killed = False
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            # A session of its own: Ctrl-C in the terminal reaches only the orchestrator, which
            # then stops the children in order (agents first, so they publish `offline`).
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})},
                cwd=self.cwd,
                start_new_session=True,
            )
        _LOGGER.info("%s started (pid %s), log %s", self.name, self.process.pid, self.log_path)
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_running(self) -> None:
        """Raise with the tail of the log when the process has exited."""
        if self.process is not None and self.process.poll() is not None and not self.killed:
            raise RuntimeError(
                f"{self.name} exited with code {self.process.returncode}; last lines of {self.log_path}:\n"
                + self.tail()
            )

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal and, for SIGKILL, reap the process (a crash, as far as others can tell)."""
        if self.running():
            assert self.process is not None
            _LOGGER.info("%s: sending %s", self.name, signal.Signals(sig).name)
            self.killed = True
            self.process.send_signal(sig)
            if sig == signal.SIGKILL:
                self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _LOGGER.warning("%s did not stop within %ss: killing it", self.name, timeout)
                self.process.kill()
                self.process.wait(10)
        _LOGGER.info("%s stopped (exit code %s)", self.name, self.process.returncode)
        return self.process.returncode
