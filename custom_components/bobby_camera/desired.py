"""What the owner set in Home Assistant for one agent: the state the agent should be in.

A value object: `control.Control` records it, compares it and re-asserts `differences()`
(docs/architecture.md, "Who owns what"); `store.py` keeps it across restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from . import protocol

# Kept by Home Assistant alone, never sent to an agent: zones are decided here.
CORE_ONLY: tuple[str, ...] = ("zones",)


@dataclass(slots=True)
class DesiredState:
    """The settings the owner chose; None: never set in Home Assistant (the agent decides)."""

    enabled: bool | None = None
    fps: float | None = None  # cameras
    threshold: float | None = None  # detectors
    masks: list[list[list[float]]] | None = None  # cameras: polygons, sent with every frame
    objects: list[str] | None = None  # cameras: the labels that count
    zones: dict[str, list[list[float]]] | None = None  # cameras: name → polygon (CORE_ONLY)

    def update(self, fields: Mapping[str, Any]) -> None:
        """Record the settings of a command the owner sent (actions such as preview are not state)."""
        for key in asdict(self):
            if key in fields:
                setattr(self, key, fields[key])

    def replace(self, fields: Mapping[str, Any]) -> None:
        """Go back to these settings (what `stored_fields` returned earlier)."""
        for key in asdict(self):
            setattr(self, key, fields.get(key))

    def stored_fields(self) -> dict[str, Any]:
        """Everything the owner chose (what `store.py` keeps)."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    def command_fields(self) -> dict[str, Any]:
        """The settings the owner chose for the agent, as the fields of a `set` command."""
        return {key: value for key, value in self.stored_fields().items() if key not in CORE_ONLY}

    def differences(self, reported: Mapping[str, Any] | None) -> dict[str, Any]:
        """The chosen settings that the agent's reported state does not show (all when unknown).

        A camera leaves default masks and objects out of its state: missing means default.
        """
        wanted = self.command_fields()
        if reported is None:
            return wanted
        return {
            key: value
            for key, value in wanted.items()
            if reported.get(key, protocol.SETTING_DEFAULTS.get(key)) != value
        }
