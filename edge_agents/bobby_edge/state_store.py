"""An agent's last commanded state on disk, so it comes back as it was left.

A camera switched off in Home Assistant must stay off after a crash, a reboot or a
systemd restart, even when Home Assistant is down. The agent saves `enabled` and its
settings after every applied command (atomically: a temporary file, fsync, rename) and
restores them on start.

The file also records the configured values at the time of saving. A setting the
administrator has changed in the configuration since (say `fps: 2` → `fps: 5` in
camera.yaml) takes the new configured value: the newest intent wins.

A file that cannot be read or holds nonsense is logged (with the fix) and ignored: the
agent starts from its configuration. A file that cannot be written is logged; the
command still applies, and `problems` in the stats says the state is not saved.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import protocol

_LOGGER = logging.getLogger(__name__)

FILE_VERSION = 1
MAX_FILE_BYTES = 64 * 1024


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """systemd's `StateDirectory=` (it exports STATE_DIRECTORY), else the XDG state folder."""
    if environ.get("STATE_DIRECTORY"):
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    xdg = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(xdg) / "bobby-camera"


class StateStore:
    """The state file of one agent: `<dir>/<kind>-<id>.json`."""

    def __init__(self, directory: Path, kind: str, agent_id: str) -> None:
        self.kind = kind
        self.path = directory / f"{kind}-{agent_id}.json"
        self.save_error: str | None = None  # why the last save failed; None once one succeeds

    def restore(self, configured: dict[str, Any]) -> dict[str, Any]:
        """The state to start with: the saved one where the configuration has not changed since."""
        saved = self._load()
        if saved is None:
            return dict(configured)
        state, saved_config = saved
        result = dict(configured)
        for key, value in configured.items():
            if key not in state:
                continue
            if saved_config.get(key) != value:
                _LOGGER.info(
                    "%s changed in the configuration since the last run: using %r, not the saved %r",
                    key,
                    value,
                    state[key],
                )
                continue
            result[key] = state[key]
        _LOGGER.info("restored the last commanded state from %s: %s", self.path, json.dumps(result))
        return result

    def _load(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        try:
            with self.path.open("rb") as file:
                raw = file.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as err:
            _LOGGER.error(
                "cannot read the saved state %s (%s): starting from the configuration; "
                "check the file's owner and mode",
                self.path,
                err.strerror,
            )
            return None
        try:
            if len(raw) > MAX_FILE_BYTES:
                raise protocol.ProtocolError(f"over {MAX_FILE_BYTES} bytes")
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("file_version") != FILE_VERSION:
                raise protocol.ProtocolError(f"not a version {FILE_VERSION} state file")
            state, config = data.get("state"), data.get("config")
            if not isinstance(state, dict) or not isinstance(config, dict):
                raise protocol.ProtocolError("no 'state' and 'config' objects")
            keys = protocol.PERSISTED_BY_KIND[self.kind]
            state = {k: v for k, v in state.items() if k in keys}
            # The same rules as a `set` command: a hand-edited 99 fps is not restored.
            protocol.check_command(self.kind, {"id": "restore", **state})
        except (ValueError, RecursionError) as err:  # ProtocolError and JSON errors are ValueErrors
            _LOGGER.error(
                "the saved state %s is unusable (%s): starting from the configuration; "
                "it is rewritten at the next command",
                self.path,
                err if isinstance(err, protocol.ProtocolError) else type(err).__name__,
            )
            return None
        return state, config

    def save(self, state: dict[str, Any], configured: dict[str, Any]) -> bool:
        """Write atomically; False (logged, remembered in `save_error`) when it cannot."""
        data = {"file_version": FILE_VERSION, "kind": self.kind, "state": state, "config": configured}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "w") as file:
                    json.dump(data, file)
                    file.flush()
                    os.fsync(file.fileno())
                tmp.replace(self.path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            self._sync_directory()
        except OSError as err:
            if self.save_error is None:  # once per failing streak: journald stays readable
                _LOGGER.error(
                    "cannot save the state to %s (%s): it will not survive a restart; give the "
                    "agent's user a writable --state-dir (systemd: StateDirectory=)",
                    self.path,
                    err.strerror or err,
                )
            self.save_error = f"cannot write {self.path}: {err.strerror or err}"
            return False
        if self.save_error is not None:
            _LOGGER.info("state saved to %s again", self.path)
        self.save_error = None
        return True

    def _sync_directory(self) -> None:
        # The rename is durable only once the directory entry is on disk (power cut on a Pi).
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
