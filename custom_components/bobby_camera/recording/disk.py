"""The disk the clips live on: its budget error and the one repair issue about it."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from ..const import LOGGER
from ..logthrottle import LogThrottle
from ..problems import create_issue, delete_issue

ISSUE_STORAGE: Final = "clip_storage"


class StorageFullError(OSError):
    """Storing the chunk would break the disk budget or leave the disk without reserve."""


class StorageIssue:
    """Opens the clip_storage issue when recordings cannot be written, closes it when they can."""

    def __init__(self, hass: HomeAssistant, root: Path, max_bytes: int, log: LogThrottle) -> None:
        """`root`: the recordings' folder; `max_bytes`: the disk budget the issue quotes."""
        self.hass = hass
        self.root = root
        self.max_bytes = max_bytes
        self.log = log
        self.problem: str | None = None  # the issue's translation key while one is open
        # Whose writes fail now (camera → kind): one camera's success does not close the issue
        # while another camera's folder (a mount of its own, a full share) still refuses writes.
        self.failing: dict[str, str] = {}

    def failed(self, err: OSError, used_bytes: int, camera: str = "") -> None:
        """A write failed: log it (throttled) and open the issue (once per kind of failure)."""
        full = isinstance(err, StorageFullError) or err.errno in (errno.ENOSPC, errno.EDQUOT)
        key = "disk_full" if full else "storage_error"
        self.failing[camera] = key
        self.log.warning(
            "Cannot store recordings under %s: %s. The cameras keep their chunks and send them again",
            self.root,
            err,
            key=key,
        )
        if self.problem == key:
            return
        self.problem = key
        create_issue(
            self.hass,
            ISSUE_STORAGE,
            key,
            {
                "path": str(self.root),
                "error": str(err.strerror or err),
                "used_mb": f"{used_bytes / 1048576:.0f}",
                "max_mb": f"{self.max_bytes / 1048576:.0f}",
            },
            severity=ir.IssueSeverity.ERROR,
        )

    def ok(self, camera: str = "") -> None:
        """A write of `camera`'s succeeded: the issue closes once no camera's writes fail."""
        self.failing.pop(camera, None)
        if self.problem is not None and not self.failing:
            LOGGER.info("Recordings are stored again under %s", self.root)
            self.problem = None
            delete_issue(self.hass, ISSUE_STORAGE)
