"""Person state of the cameras: detections in, debounced transitions out as events.

`debounce.PersonDebounce` decides (pure); this module runs its timers and makes each
transition visible: the `bobby_camera_person_detected` bus event and the camera's
person event entity. The same debounce decides whether a person stands in each of the
camera's zones (`zones.py`: the bottom centre of the box) and whether each object the
owner picked (car, dog, ...) is there; an object that appears fires
`bobby_camera_object_detected`. Every event carries `label` and `zones`.
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.core import HomeAssistant, callback

from . import protocol
from .agent import Agent, label_key, label_of, people_in, person_score, zone_key
from .alarm import Alarm
from .const import EVENT_OBJECT_DETECTED, EVENT_PERSON_DETECTED
from .debounce import PersonTransition
from .devices import AgentDevices
from .signals import Signals
from .zones import zones_of


class PersonEvents:
    """Feeds each camera's debounce and reports its transitions."""

    def __init__(
        self, hass: HomeAssistant, *, base_topic: str, devices: AgentDevices, signals: Signals
    ) -> None:
        """No camera is watched until `async_watch`."""
        self.hass = hass
        self.base_topic = base_topic
        self._devices = devices
        self._signals = signals
        self._clears: dict[str, Alarm] = {}  # per agent key: when the person state may clear

    @callback
    def async_watch(self, agent: Agent) -> None:
        """Give the agent its clear timer."""
        self._clears[agent.key] = Alarm(self.hass, lambda: self._clear_timer(agent))

    @callback
    def async_forget(self, agent: Agent) -> None:
        """Stop the timer of an agent that is forgotten."""
        if (alarm := self._clears.pop(agent.key, None)) is not None:
            alarm.cancel()

    @callback
    def async_stop(self) -> None:
        """Cancel every timer (the hub stops)."""
        for alarm in self._clears.values():
            alarm.cancel()

    def on_detection(self, agent: Agent, detection: protocol.DetectionPayload) -> None:
        """The hub's `detection` channel handler."""
        agent.last_detection = detection
        threshold = agent.person.threshold
        score = person_score(detection)
        if score >= threshold:  # what the person sensor counts
            agent.people = people_in(detection)
        for transition in agent.person.detection(score):
            if transition is PersonTransition.DETECTED:
                self._detected(agent, detection)
            else:
                self._cleared(agent)
        zones = agent.desired.zones or {}
        seen = [b for b in detection["boxes"] if b["score"] >= threshold]
        people = [b for b in seen if label_of(b) == protocol.PERSON]
        for name in zones:
            inside = [b["score"] for b in people if name in zones_of(b["box"], {name: zones[name]})]
            agent.presence_of(zone_key(name)).detection(max(inside, default=0.0))
        for label in agent.desired.objects or ():
            if label == protocol.PERSON:
                continue
            boxes = [b for b in seen if label_of(b) == label]
            if boxes:
                agent.counts[label] = len(boxes)
            if PersonTransition.DETECTED in agent.presence_of(label_key(label)).detection(
                max((b["score"] for b in boxes), default=0.0)
            ):
                self._object_detected(agent, detection, label, boxes)
        self._forget_stale(agent)
        self._clears[agent.key].set(self._next_clear(agent))

    def _forget_stale(self, agent: Agent) -> None:
        """Drop the presence of zones and objects the owner no longer has."""
        wanted = {zone_key(n) for n in agent.desired.zones or {}} | {
            label_key(o) for o in agent.desired.objects or ()
        }
        for key in [k for k in agent.presence if k not in wanted]:
            del agent.presence[key]

    @staticmethod
    def _next_clear(agent: Agent) -> datetime | None:
        """When the first of the camera's person, zone and object states may clear."""
        times = [t for d in (agent.person, *agent.presence.values()) if (t := d.clear_at()) is not None]
        return min(times, default=None)

    @callback
    def async_restore(self, agent: Agent, last_hit: datetime) -> None:
        """Carry the person state over a restart: on while `clear_after` has not passed."""
        if agent.person.restore(last_hit):
            self._clears[agent.key].set(self._next_clear(agent))
            self._signals.refresh(agent)

    @callback
    def _clear_timer(self, agent: Agent) -> None:
        changed = False
        if agent.person.expire():
            self._cleared(agent)
            changed = True
        for key, debounce in agent.presence.items():
            if debounce.expire():
                changed = True
                if key.startswith("label:"):
                    agent.counts.pop(key.removeprefix("label:"), None)
        if changed:
            self._signals.refresh(agent)
        self._clears[agent.key].set(self._next_clear(agent))

    def _detected(self, agent: Agent, detection: protocol.DetectionPayload) -> None:
        people = [
            b
            for b in detection["boxes"]
            if label_of(b) == protocol.PERSON and b["score"] >= agent.person.threshold
        ]
        data = {
            "camera": agent.agent_id,
            "name": agent.name,
            "label": protocol.PERSON,
            # The zones the people stand in (zones.py), in the order the owner gave them.
            "zones": self._zones(agent, people),
            "score": person_score(detection),
            "boxes": detection["boxes"],
            "detector": detection["detector"],
            "frame_time": detection["frame_time"],
            "snapshot": detection.get("snapshot", False),
            "snapshot_topic": protocol.build_topic(self.base_topic, agent.kind, agent.agent_id, "snapshot"),
        }
        self._devices.async_fire(EVENT_PERSON_DETECTED, agent, data)
        self._signals.send(self._signals.person(agent), PersonTransition.DETECTED.value, data)

    def _object_detected(
        self, agent: Agent, detection: protocol.DetectionPayload, label: str, boxes: list[protocol.Box]
    ) -> None:
        data = {
            "camera": agent.agent_id,
            "name": agent.name,
            "label": label,
            "zones": self._zones(agent, boxes),
            "score": max(b["score"] for b in boxes),
            "count": len(boxes),
            "boxes": boxes,
            "detector": detection["detector"],
            "frame_time": detection["frame_time"],
            "snapshot": detection.get("snapshot", False),
            "snapshot_topic": protocol.build_topic(self.base_topic, agent.kind, agent.agent_id, "snapshot"),
        }
        self._devices.async_fire(EVENT_OBJECT_DETECTED, agent, data)

    @staticmethod
    def _zones(agent: Agent, boxes: list[protocol.Box]) -> list[str]:
        zones = agent.desired.zones or {}
        inside = {name for b in boxes for name in zones_of(b["box"], zones)}
        return [name for name in zones if name in inside]

    def _cleared(self, agent: Agent) -> None:
        self._signals.send(self._signals.person(agent), PersonTransition.CLEARED.value, {})
