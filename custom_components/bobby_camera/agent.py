"""What the hub knows about one agent: a camera or a detector publishing under the base topic.

A camera that only streams frames (an ESP32-CAM) is an agent that never announces itself:
it gets the entities its frames and detections feed, and takes no commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import protocol
from .coverage import CameraWatch
from .debounce import PersonDebounce
from .desired import DesiredState
from .monitoring import AgentHealth


@dataclass(eq=False)
class Agent:
    """One camera or detector: what it reported, what the owner wants, and its person state."""

    kind: str
    agent_id: str
    person: PersonDebounce  # cameras only; idle for a detector
    health: AgentHealth
    desired: DesiredState = field(default_factory=DesiredState)
    # What it reported, as the last valid message of each channel held it.
    info: protocol.InfoPayload | None = None
    state: protocol.StatePayload | None = None
    stats: protocol.StatsPayload | None = None
    last_detection: protocol.DetectionPayload | None = None
    snapshot: bytes | None = None
    preview: bytes | None = None
    # Cameras: people in the last detection at or above the threshold (None: none since start).
    people: int | None = None
    # Cameras: presence in each zone (`zone:<name>`) and of each picked object (`label:<car>`),
    # decided as the person state is (person.py); objects counted like people.
    presence: dict[str, PersonDebounce] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    # Cameras: what automations get about the newest finished clip (recording.manager).
    last_clip: dict[str, Any] | None = None
    # Whether the platforms were told it exists (its entities are created then).
    offered: bool = False
    # Cameras: whether its frames are analysed (watching.py; None before it is judged).
    watch: CameraWatch | None = None

    @classmethod
    def create(
        cls,
        kind: str,
        agent_id: str,
        *,
        threshold: float,
        trigger_after: float,
        clear_after: float,
        clock: Callable[[], datetime],
        offline_grace: float = 0.0,
        mismatch_after: float = 0.0,
        lie_after: float | None = None,
        desired: DesiredState | None = None,
    ) -> Agent:
        """A new agent with the hub's settings; nothing known about it yet but what the owner wants."""
        person = PersonDebounce(
            threshold=threshold, trigger_after=trigger_after, clear_after=clear_after, clock=clock
        )
        health = AgentHealth(
            clock, offline_grace=offline_grace, mismatch_after=mismatch_after, lie_after=lie_after
        )
        return cls(kind, agent_id, person=person, health=health, desired=desired or DesiredState())

    def presence_of(self, key: str) -> PersonDebounce:
        """The presence state of a zone or object (`zone_key`, `label_key`), made on first use."""
        if key not in self.presence:
            self.presence[key] = self.person.sibling()
        return self.presence[key]

    def present(self, key: str) -> bool:
        """Whether the zone holds a person / the object is there (False before any detection)."""
        debounce = self.presence.get(key)
        return debounce is not None and debounce.on

    @property
    def key(self) -> str:
        """Identifier of the device, prefix of the unique ids (`camera_porch`)."""
        return agent_key(self.kind, self.agent_id)

    @property
    def name(self) -> str:
        """Name the agent announced, else its id."""
        if self.info is not None and (name := self.info.get("name")):
            return name
        return self.agent_id

    @property
    def is_camera(self) -> bool:
        """Whether the agent is a camera (else a detector)."""
        return self.kind == protocol.KIND_CAMERA

    @property
    def announced(self) -> bool:
        """Whether a Bobby agent runs it: it announced its info and takes commands."""
        return self.info is not None

    @property
    def can_record(self) -> bool:
        """A camera agent that announced the `record` capability (records events, takes `record`)."""
        return self.info is not None and "record" in self.info.get("capabilities", [])

    @property
    def online(self) -> bool:
        """Whether the agent says it is online."""
        return self.health.online

    @property
    def connected(self) -> bool | None:
        """Online and sending its heartbeat; None before anything is known."""
        return self.health.connected

    @property
    def problems(self) -> tuple[str, ...]:
        """The problems in force."""
        return self.health.problems

    @property
    def enabled(self) -> bool | None:
        """The acknowledged `enabled` state."""
        return None if self.state is None else self.state["enabled"]


def people_in(detection: protocol.DetectionPayload) -> int:
    """How many people a detection saw: `person_count`, or its boxes from an older detector."""
    return detection.get("person_count", len(detection["boxes"]))


def label_of(box: protocol.Box) -> str:
    """A box's label; an older detector's boxes are people."""
    return box.get("label", protocol.PERSON)


def person_score(detection: protocol.DetectionPayload) -> float:
    """The best person score of a detection: its `score` when no box says what it is."""
    boxes = detection["boxes"]
    if not any("label" in box for box in boxes):
        return detection["score"]
    return max((b["score"] for b in boxes if label_of(b) == protocol.PERSON), default=0.0)


def zone_key(name: str) -> str:
    """The presence key of a zone."""
    return f"zone:{name}"


def label_key(label: str) -> str:
    """The presence key of a picked object."""
    return f"label:{label}"


def agent_key(kind: str, agent_id: str) -> str:
    """The key of an agent from its topic's kind and id."""
    return f"{kind}_{agent_id}"


def parse_agent_key(key: str) -> tuple[str, str] | None:
    """(kind, id) of a valid agent key, else None (the hub device's key is an entry id)."""
    kind, _, agent_id = key.partition("_")
    if kind in protocol.KINDS and protocol.is_valid_agent_id(agent_id):
        return kind, agent_id
    return None
